/**
 * The link to Redis every queue part shares: loading the optional `bullmq`/`ioredis` packages, connecting within a
 * bounded time (or `EARSHOT_QUEUE_UNAVAILABLE`), checking `maxmemory-policy noeviction`, and watching the link so a
 * Redis lost mid-run becomes a coded error after `reconnectTimeoutMs` instead of a hang.
 *
 * `bullmq` and `ioredis` are optional dependencies: they are imported here, dynamically, and nowhere else, so the
 * rest of earshot works without them.
 */
import type * as BullMQ from 'bullmq';
import type { RedisOptions as BullConnection } from 'bullmq';
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';

/** Where Redis is: a URL (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS) or its parts. */
export type QueueConnection = string | QueueConnectionOptions;

/** Redis address and credentials, when not given as a URL. */
export interface QueueConnectionOptions {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: boolean;
}

/** Timing and naming of a {@link QueueLink}. */
export interface QueueLinkOptions {
  /** Longest wait for Redis at start before EARSHOT_QUEUE_UNAVAILABLE, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Longest time Redis may stay unreachable mid-run before EARSHOT_QUEUE_UNAVAILABLE, ms (default 30000). */
  reconnectTimeoutMs?: number;
  /** Key prefix of every queue key (default `earshot`; `{earshot}` hash-tags them for Redis Cluster). */
  prefix?: string;
}

/** A connected, watched Redis link with the BullMQ module loaded. */
export interface QueueLink {
  /** The `bullmq` module. */
  readonly bullmq: typeof BullMQ;
  /** A client of our own (audio keys, checks, health pings). */
  readonly redis: RedisClient;
  readonly prefix: string;
  /** Connection options to give BullMQ classes (each makes its own clients, with the same bounded reconnects). */
  readonly bullConnection: BullConnection;
  /** Call `fn` once if Redis stays unreachable past `reconnectTimeoutMs` (with the coded error). Returns an unsubscribe. */
  onLost(fn: (err: EarshotError) => void): () => void;
  /**
   * Call `fn` each time Redis answers again after an outage shorter than `reconnectTimeoutMs` (it may have come back
   * empty: a restart without persistence). Returns an unsubscribe.
   */
  onRecovered(fn: () => void): () => void;
  /** The coded error if the link was lost, else undefined. */
  readonly lostError: EarshotError | undefined;
  /**
   * Close BullMQ objects made on this link. After a loss it first waits for their clients to give up reconnecting
   * (at most one retry delay, 1 s), since closing a client in the middle of a reconnect can wait forever.
   */
  closeAll(objects: ReadonlyArray<{ close(): Promise<void> } | undefined>): Promise<void>;
  /** A Redis command's failure as a coded error: the link's loss if that is why, else EARSHOT_QUEUE_UNAVAILABLE. */
  failure(err: unknown): EarshotError;
  /**
   * Take the `error` events of a BullMQ object made on this link (a Redis reconnecting emits them): the last one is
   * kept as the cause of the coded error the link reports if Redis stays unreachable. Returns the object.
   */
  adopt<T extends { on(event: 'error', fn: (err: Error) => void): unknown }>(emitter: T): T;
  /** Stop watching and close our client. Safe to call twice. */
  close(): Promise<void>;
}

interface Modules {
  bullmq: typeof BullMQ;
  Redis: typeof RedisClient;
}

let modules: Promise<Modules> | undefined;

/** Longest wait between two reconnect attempts, ms. */
const RETRY_CAP_MS = 1000;

/**
 * Import `bullmq` and `ioredis` (optional dependencies) once.
 *
 * @throws EARSHOT_QUEUE_UNAVAILABLE when either package is not installed.
 * @example
 * const { bullmq } = await loadQueueModules();
 */
export function loadQueueModules(): Promise<Modules> {
  modules ??= (async () => {
    try {
      const [bullmq, ioredis] = await Promise.all([import('bullmq'), import('ioredis')]);
      return { bullmq, Redis: ioredis.Redis };
    } catch (err) {
      modules = undefined;
      throw new EarshotError('EARSHOT_QUEUE_UNAVAILABLE', 'the queue needs the optional packages bullmq and ioredis: npm install bullmq ioredis', { cause: err });
    }
  })();
  return modules;
}

/**
 * Turn a URL or parts into ioredis options.
 *
 * @throws EARSHOT_INVALID_ARGUMENT for a URL that is not `redis://` or `rediss://`.
 * @example
 * redisOptions('redis://127.0.0.1:6380/2'); // { host: '127.0.0.1', port: 6380, db: 2 }
 */
export function redisOptions(connection: QueueConnection): RedisOptions {
  if (typeof connection !== 'string') {
    const { tls, ...rest } = connection;
    return { ...rest, ...(tls ? { tls: {} } : {}) };
  }
  let url: URL;
  try {
    url = new URL(connection);
  } catch (err) {
    throw new InvalidArgumentError(`not a Redis URL: ${connection} (try redis://HOST:PORT)`, { cause: err });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new InvalidArgumentError(`a queue URL starts with redis:// or rediss://, got ${url.protocol}//`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  if (db !== undefined && !(Number.isInteger(db) && db >= 0)) throw new InvalidArgumentError(`not a Redis database number: ${url.pathname.slice(1)}`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Where a link points, for messages (never the password). */
function describe(o: RedisOptions): string {
  return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

/**
 * Connect to Redis, check it can hold a queue, and watch the link.
 *
 * @param connection - the Redis URL or parts.
 * @param options - connect/reconnect time bounds and the key prefix.
 * @throws EARSHOT_QUEUE_UNAVAILABLE when the packages are missing, Redis does not answer within `connectTimeoutMs`,
 *   or its `maxmemory-policy` is not `noeviction` (BullMQ would lose jobs under memory pressure);
 *   EARSHOT_INVALID_ARGUMENT for a bad URL or bounds.
 * @example
 * const link = await openQueueLink('redis://127.0.0.1:6379');
 * link.onLost((err) => console.error(err.toLine()));
 * await link.close();
 */
export async function openQueueLink(connection: QueueConnection, options: QueueLinkOptions = {}): Promise<QueueLink> {
  const { connectTimeoutMs = 5000, reconnectTimeoutMs = 30_000, prefix = 'earshot' } = options;
  if (!(connectTimeoutMs > 0) || !(reconnectTimeoutMs > 0)) throw new InvalidArgumentError('connectTimeoutMs and reconnectTimeoutMs must be positive');
  if (!prefix || prefix.includes(':')) throw new InvalidArgumentError(`a queue prefix is a non-empty name without ":", got "${prefix}"`);
  const base = redisOptions(connection);
  const { bullmq, Redis } = await loadQueueModules();
  let stopped = false;
  const ioOptions: RedisOptions = {
    ...base,
    connectTimeout: connectTimeoutMs,
    // BullMQ's blocking commands need null. Reconnects go on until the link's watchdog declares Redis lost (or the
    // link is closed); then every client made from these options stops, so nothing waits on a dead Redis.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => (stopped ? null : Math.min(100 * times, RETRY_CAP_MS)),
  };
  const bullConnection = ioOptions as BullConnection;
  const redis = new Redis({ ...ioOptions, lazyConnect: true });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  const where = describe(base);
  const unavailable = (what: string, cause?: unknown): EarshotError =>
    new EarshotError('EARSHOT_QUEUE_UNAVAILABLE', `Redis at ${where} ${what}${lastError ? ` (${lastError.message})` : ''}`, { cause, details: { redis: where } });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      stopped = true;
      redis.disconnect();
      reject(unavailable(`did not answer within ${connectTimeoutMs} ms`, lastError));
    }, connectTimeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
    redis.connect().catch((err: Error) => {
      lastError = err;
    });
  });

  const policy = await redis.config('GET', 'maxmemory-policy').then(
    (reply) => (Array.isArray(reply) ? String(reply[1]) : undefined),
    () => undefined, // CONFIG may be disabled on a managed Redis: nothing to check then.
  );
  if (policy !== undefined && policy !== 'noeviction') {
    redis.disconnect();
    throw new EarshotError('EARSHOT_QUEUE_UNAVAILABLE', `Redis at ${where} has maxmemory-policy ${policy}; a queue needs noeviction (CONFIG SET maxmemory-policy noeviction), or jobs are lost when memory is full`, { details: { redis: where, policy } });
  }

  // Watchdog: one PING in flight at a time; no answer for reconnectTimeoutMs means the link is lost.
  let lastOk = Date.now();
  let pinging = false;
  let lostError: EarshotError | undefined;
  let lostAt = 0;
  const listeners = new Set<(err: EarshotError) => void>();
  const recovered = new Set<() => void>();
  redis.on('ready', () => {
    if (lostError) return;
    lastOk = Date.now();
    for (const fn of recovered) fn();
  });
  const watch = setInterval(() => {
    if (lostError) return;
    if (Date.now() - lastOk > reconnectTimeoutMs) {
      lostError = unavailable(`was unreachable for more than ${reconnectTimeoutMs} ms`, lastError);
      stopped = true;
      lostAt = Date.now();
      for (const fn of listeners) fn(lostError);
      return;
    }
    if (pinging) return;
    pinging = true;
    redis.ping().then(
      () => {
        lastOk = Date.now();
        pinging = false;
      },
      () => {
        pinging = false;
      },
    );
  }, Math.min(1000, reconnectTimeoutMs / 4));
  watch.unref();

  let closing: Promise<void> | undefined;
  return {
    bullmq,
    redis,
    prefix,
    bullConnection,
    get lostError() {
      return lostError;
    },
    onRecovered(fn) {
      recovered.add(fn);
      return () => recovered.delete(fn);
    },
    onLost(fn) {
      if (lostError) {
        fn(lostError);
        return () => {};
      }
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    failure(err) {
      if (lostError) return lostError;
      if (err instanceof EarshotError) return err;
      return unavailable(`refused a queue command: ${err instanceof Error ? err.message : String(err)}`, err);
    },
    adopt(emitter) {
      emitter.on('error', (err: Error) => {
        lastError = err;
      });
      return emitter;
    },
    async closeAll(objects) {
      if (lostError) await new Promise((resolve) => setTimeout(resolve, Math.max(0, lostAt + RETRY_CAP_MS + 200 - Date.now())));
      await Promise.all(objects.map((o) => o?.close().catch(() => {})));
    },
    close() {
      closing ??= (async () => {
        clearInterval(watch);
        listeners.clear();
        recovered.clear();
        if (lostError || redis.status !== 'ready') redis.disconnect();
        else await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
