#!/usr/bin/env node
/**
 * The `earshot` command's entry: sizes libuv's thread pool, where the embedded engine's decoders run (one thread
 * per parallel decode, besides `fs`, `dns` and `zlib`), to the default engine pool (one decoder per core) plus the
 * 4 threads libuv has by default, unless `UV_THREADPOOL_SIZE` is set; then runs the CLI (`main.ts`). CommonJS
 * because libuv reads the size when its pool first starts, and Node 20 reads ES modules through that pool: from an
 * ES module entry it would be too late.
 */
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(availableParallelism() + 4);
void import('./main.js');
