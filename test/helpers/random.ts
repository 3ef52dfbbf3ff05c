/** A deterministic pseudo-random generator (mulberry32): the fuzzers' own, so a failing randomised test reproduces from its seed. */
export { rng } from '../../bench/fuzz/mutate.js';
