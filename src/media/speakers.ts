/**
 * Speaker diarization on the audio itself, for transports whose service does not label speakers (the embedded engine,
 * qwen3-asr, Omni) and for the emulator's fun-asr: energy-based speech frames described by cepstra (MFCC, normalised
 * over the recording) and pitch; short windows of speech clustered bottom-up (average linkage); the speaker count,
 * when not given, the one whose clusters stand apart most; each 10 ms frame then re-assigned by a Viterbi pass over per-speaker Gaussians with a switching cost, so turns follow the voices rather
 * than the window grid. Classic and small (no model files), good on two or three distinct voices.
 */

/** One stretch of speech given to one speaker. */
export interface SpeakerTurn {
  startMs: number;
  endMs: number;
  /** 0-based speaker index, in order of first appearance. */
  speaker: number;
}

/** Options of {@link diarize}. */
export interface DiarizeOptions {
  /** Number of speakers when known (a hint the service accepts as `speaker_count`, 2–100). */
  speakerCount?: number;
  /** Most speakers considered when the count is not given (default 6). */
  maxSpeakers?: number;
  /** Longest window one clustering point describes, ms (default 1000). */
  windowMs?: number;
  /** Log-likelihood a change of speaker costs when frames are re-assigned (default 30; higher: fewer, longer turns). */
  switchCost?: number;
  /** Separation needed to count more than one voice when the count is not given (default 1.15; higher: fewer speakers). */
  minSeparation?: number;
}

const FRAME = 400; // 25 ms at 16 kHz
const HOP = 160; // 10 ms
const NFFT = 512;
const BANDS = 40;
/** Cepstral coefficients per frame (c1…c19; c0, the level, is left out so loudness does not decide the speaker). */
const CEPSTRA = 19;
/** Scale of the pitch feature of a window: one octave counts like this many standard deviations of a cepstrum. */
const PITCH_WEIGHT = 2;
/** Log-likelihood a change of speaker costs in the re-assignment (nats). */
const SWITCH_COST = 30;
/**
 * Separation (distance between cluster centres over the mean distance of windows to their centre) above which the
 * windows are taken as more than one voice. One voice split by what it says scores under 1; two voices 1.2–3.
 */
const MIN_SEPARATION = 1.15;
/** A pause shorter than this between two stretches of one speaker stays inside the turn (as annotators mark turns). */
const TURN_BRIDGE_MS = 1000;
/** Smallest share of the speech a cluster must hold to count as a speaker. */
const MIN_SHARE = 0.08;
/** Most windows clustered bottom-up; longer recordings cluster an even subsample and assign the rest. */
const MAX_CLUSTERED = 400;

/**
 * Split mono s16 audio into speaker turns.
 *
 * @param samples - Mono signed 16-bit PCM.
 * @param sampleRate - Its rate (16 kHz expected; others work with scaled frames).
 * @param options - Speaker count, window length, decision thresholds.
 * @returns Turns in time order, speakers numbered by first appearance; empty when there is no speech.
 * @example
 * const turns = diarize(pcm, 16000, { speakerCount: 2 });
 * // [{ startMs: 0, endMs: 2810, speaker: 0 }, { startMs: 3410, endMs: 6020, speaker: 1 }, …]
 */
export function diarize(samples: Int16Array, sampleRate: number, options: DiarizeOptions = {}): SpeakerTurn[] {
  const a = analyse(samples, sampleRate);
  if (!a) return [];
  const { hopMs, speech, features, pitch, segments } = a;

  // Windows of at most windowMs inside segments, each described by its mean cepstrum and its median pitch.
  const winFrames = Math.max(20, Math.round((options.windowMs ?? 1000) / hopMs));
  const windows: { a: number; b: number }[] = [];
  for (const [s, e] of segments) {
    const n = Math.max(1, Math.round((e - s) / winFrames));
    for (let i = 0; i < n; i++) windows.push({ a: s + Math.floor(((e - s) * i) / n), b: s + Math.floor(((e - s) * (i + 1)) / n) });
  }
  const voiced = pitch.filter((p) => p > 0);
  const meanPitch = voiced.length ? voiced.reduce((s, p) => s + Math.log2(p), 0) / voiced.length : 0;
  const points = windows.map(({ a: from, b: to }) => {
    const v = new Float64Array(CEPSTRA + 1);
    let count = 0;
    const f0: number[] = [];
    for (let f = from; f < to; f++) {
      if (!speech[f]) continue;
      const x = features[f]!;
      for (let d = 0; d < CEPSTRA; d++) v[d]! += x[d]!;
      count++;
      if (pitch[f]! > 0) f0.push(Math.log2(pitch[f]!));
    }
    for (let d = 0; d < CEPSTRA; d++) v[d] = v[d]! / Math.max(1, count);
    f0.sort((x, y) => x - y);
    v[CEPSTRA] = f0.length ? (f0[Math.floor(f0.length / 2)]! - meanPitch) * PITCH_WEIGHT : 0;
    return v;
  });

  // Cluster the windows; the count is given, or the largest whose split the frames' likelihood supports.
  const maxK = Math.max(1, Math.min(points.length, options.speakerCount ?? options.maxSpeakers ?? 6));
  const clusters = clusterWindows(points, windows.map((w) => w.b - w.a));
  const frameLabels = (k: number): Int32Array => toFrames(clusters(k));
  const toFrames = (labels: number[]): Int32Array => {
    const out = new Int32Array(speech.length).fill(-1);
    windows.forEach((w, i) => {
      for (let f = w.a; f < w.b; f++) if (speech[f]) out[f] = labels[i]!;
    });
    return out;
  };
  const best = (k: number): Int32Array => resegment(features, frameLabels(k), k, options);
  // Without a count: the number of voices whose windows stand apart most (centre distance over spread), when
  // that separation is clear; a larger count must separate at least 10 % better than a smaller one.
  let labels: Int32Array = frameLabels(1);
  if (options.speakerCount !== undefined) labels = best(maxK);
  else {
    let bestScore = options.minSeparation ?? MIN_SEPARATION;
    let bestGain = 1;
    for (let k = 2; k <= maxK; k++) {
      const next = best(k);
      if (distinctLabels(next) < k) continue;
      const score = separation(points, windows.map((w) => next[Math.floor((w.a + w.b) / 2)]!));
      if (!Number.isFinite(score) || score <= bestScore * bestGain) continue;
      labels = next;
      bestScore = score;
      bestGain = 1.1;
    }
  }

  // Turns: runs of one speaker over speech frames, bridging a speaker's own pauses under TURN_BRIDGE_MS; speakers by first appearance.
  const order = new Map<number, number>();
  const turns: SpeakerTurn[] = [];
  const tail = ((a.frame - a.hop) * 1000) / sampleRate;
  for (let f = 0; f < labels.length; f++) {
    const raw = labels[f]!;
    if (raw < 0) continue;
    if (!order.has(raw)) order.set(raw, order.size);
    const speaker = order.get(raw)!;
    const startMs = f * hopMs;
    const endMs = (f + 1) * hopMs + tail;
    const last = turns[turns.length - 1];
    if (last && last.speaker === speaker && startMs - last.endMs < TURN_BRIDGE_MS) last.endMs = endMs;
    else turns.push({ startMs, endMs, speaker });
  }
  // Drop blips shorter than 100 ms; a turn ends where the next begins (the frame tail must not overlap it); round.
  const kept = turns.filter((t) => t.endMs - t.startMs >= 100 || turns.length === 1);
  kept.forEach((t, i) => (t.endMs = Math.min(t.endMs, kept[i + 1]?.startMs ?? Infinity)));
  for (const t of kept) {
    t.startMs = Math.round(t.startMs);
    t.endMs = Math.round(t.endMs);
  }
  return kept;
}

interface Analysis {
  frame: number;
  hop: number;
  hopMs: number;
  /** 1 for speech frames. */
  speech: Uint8Array;
  /** Normalised cepstra (c1…) of each speech frame; empty arrays elsewhere. */
  features: Float64Array[];
  /** Pitch (Hz) of each frame, 0 when unvoiced or silent. */
  pitch: Float64Array;
  /** Speech segments as [first frame, end frame). */
  segments: [number, number][];
}

/** Frames, speech mask, segments, normalised cepstra and pitch of a recording; undefined when there is no speech. */
function analyse(samples: Int16Array, sampleRate: number): Analysis | undefined {
  const scale = sampleRate / 16000;
  const frame = Math.max(64, Math.round(FRAME * scale));
  const hop = Math.max(16, Math.round(HOP * scale));
  const nfft = nextPow2(frame);
  const frames = Math.max(0, Math.floor((samples.length - frame) / hop) + 1);
  if (frames === 0) return undefined;
  const hopMs = (hop * 1000) / sampleRate;

  // 1. Energy per frame and a speech mask.
  const energy = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    const o = f * hop;
    for (let i = 0; i < frame; i++) {
      const v = samples[o + i]! / 32768;
      sum += v * v;
    }
    energy[f] = 10 * Math.log10(sum / frame + 1e-10);
  }
  const sorted = Float64Array.from(energy).sort();
  const floor = sorted[Math.floor(frames * 0.1)]!;
  const peak = sorted[Math.floor(frames * 0.98)]!;
  const threshold = Math.max(floor + 12, peak - 40, -60);
  const speech = new Uint8Array(frames);
  for (let f = 0; f < frames; f++) speech[f] = energy[f]! > threshold ? 1 : 0;

  // 2. Segments: runs of speech, bridging gaps under 250 ms, dropping blips under 150 ms.
  const runs: [number, number][] = [];
  let start = -1;
  for (let f = 0; f <= frames; f++) {
    const on = f < frames && speech[f] === 1;
    if (on && start < 0) start = f;
    if (!on && start >= 0) {
      runs.push([start, f]);
      start = -1;
    }
  }
  const bridge = Math.round(250 / hopMs);
  const merged: [number, number][] = [];
  for (const r of runs) {
    const last = merged[merged.length - 1];
    if (last && r[0] - last[1] < bridge) last[1] = r[1];
    else merged.push([r[0], r[1]]);
  }
  const minFrames = Math.round(150 / hopMs);
  const segments = merged.filter(([s, e]) => e - s >= minFrames);
  if (segments.length === 0) return undefined;
  speech.fill(0);
  for (const [s, e] of segments) for (let f = s; f < e; f++) if (energy[f]! > threshold) speech[f] = 1;

  // 3. Cepstra of the speech frames (log mel, DCT), normalised to zero mean and unit variance over the speech.
  const mel = melBank(nfft, sampleRate, BANDS);
  const re = new Float64Array(nfft);
  const im = new Float64Array(nfft);
  const hann = new Float64Array(frame);
  for (let i = 0; i < frame; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (frame - 1));
  const logMel = new Float64Array(BANDS);
  const features: Float64Array[] = new Array<Float64Array>(frames);
  const empty = new Float64Array(0);
  const mean = new Float64Array(CEPSTRA);
  const sq = new Float64Array(CEPSTRA);
  let count = 0;
  for (let f = 0; f < frames; f++) {
    if (!speech[f]) {
      features[f] = empty;
      continue;
    }
    const o = f * hop;
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < frame; i++) re[i] = (samples[o + i]! / 32768) * hann[i]!;
    fft(re, im);
    for (let band = 0; band < BANDS; band++) {
      let e = 0;
      for (const [bin, w] of mel[band]!) e += w * (re[bin]! * re[bin]! + im[bin]! * im[bin]!);
      logMel[band] = Math.log(e + 1e-9);
    }
    const c = new Float64Array(CEPSTRA);
    for (let k = 0; k < CEPSTRA; k++) {
      let s = 0;
      for (let band = 0; band < BANDS; band++) s += logMel[band]! * Math.cos((Math.PI * (k + 1) * (band + 0.5)) / BANDS);
      c[k] = s;
      mean[k]! += s;
      sq[k]! += s * s;
    }
    features[f] = c;
    count++;
  }
  for (let k = 0; k < CEPSTRA; k++) {
    mean[k] = mean[k]! / count;
    sq[k] = Math.sqrt(Math.max(1e-9, sq[k]! / count - mean[k]! ** 2));
  }
  for (const c of features) for (let k = 0; k < c.length; k++) c[k] = (c[k]! - mean[k]!) / sq[k]!;

  // 4. Pitch per frame, from 40 ms analysis windows every 20 ms.
  const pitch = new Float64Array(frames);
  for (const [s, e] of segments) {
    for (let f = s; f < e; f += 2) {
      const p = framePitch(samples, sampleRate, f * hop);
      pitch[f] = p;
      if (f + 1 < e) pitch[f + 1] = p;
    }
  }
  return { frame, hop, hopMs, speech, features, pitch, segments };
}

/**
 * Bottom-up clustering of the windows: a function from a cluster count to each window's label. Beyond
 * {@link MAX_CLUSTERED} windows an even subsample is clustered and every other window takes its nearest sample's label.
 */
function clusterWindows(points: Float64Array[], weights: number[]): (k: number) => number[] {
  const n = points.length;
  const step = Math.max(1, n / MAX_CLUSTERED);
  const picked = Array.from({ length: Math.min(n, MAX_CLUSTERED) }, (_, i) => Math.floor(i * step));
  const merges = agglomerate(picked.map((i) => points[i]!), picked.map((i) => weights[i]!));
  const nearest = points.map((p) => {
    let best = 0;
    for (let j = 1; j < picked.length; j++) if (dist2(p, points[picked[j]!]!) < dist2(p, points[picked[best]!]!)) best = j;
    return best;
  });
  const total = weights.reduce((a, b) => a + b, 0);
  return (k) => {
    // Cut deeper until k clusters each hold a real share of the speech; smaller ones (a cough, a noise) join the
    // nearest of those.
    let labels = cut(merges, picked.length, k);
    for (let deeper = k; deeper <= picked.length; deeper++) {
      labels = cut(merges, picked.length, deeper);
      const share = new Array<number>(deeper).fill(0);
      picked.forEach((i, j) => (share[labels[j]!]! += weights[i]!));
      const big = share.map((w, c) => (w >= MIN_SHARE * total ? c : -1)).filter((c) => c >= 0);
      if (big.length < k && deeper < picked.length) continue;
      const centres = big.map((c) => centroid(picked.filter((_, j) => labels[j] === c).map((i) => points[i]!)));
      labels = labels.map((c, j) => {
        if (big.includes(c)) return big.indexOf(c);
        let best = 0;
        for (let b = 1; b < centres.length; b++) if (dist2(points[picked[j]!]!, centres[b]!) < dist2(points[picked[j]!]!, centres[best]!)) best = b;
        return best;
      });
      break;
    }
    return nearest.map((j) => labels[j]!);
  };
}

/** Bottom-up clustering (average linkage, weighted by window length): the merges, in order. */
function agglomerate(points: Float64Array[], weights: number[]): [number, number][] {
  const n = points.length;
  const dist: Float64Array[] = points.map((p) => Float64Array.from(points, (q) => Math.sqrt(dist2(p, q))));
  const size = weights.slice();
  const alive = new Uint8Array(n).fill(1);
  const merges: [number, number][] = [];
  for (let step = 0; step < n - 1; step++) {
    let bi = -1;
    let bj = -1;
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      const row = dist[i]!;
      for (let j = i + 1; j < n; j++) if (alive[j] && row[j]! < best) [best, bi, bj] = [row[j]!, i, j];
    }
    // Merge j into i (Lance–Williams update for average linkage).
    const wi = size[bi]!;
    const wj = size[bj]!;
    for (let k = 0; k < n; k++) {
      if (!alive[k] || k === bi || k === bj) continue;
      const d = (wi * dist[bi]![k]! + wj * dist[bj]![k]!) / (wi + wj);
      dist[bi]![k] = d;
      dist[k]![bi] = d;
    }
    size[bi] = wi + wj;
    alive[bj] = 0;
    merges.push([bi, bj]);
  }
  return merges;
}

/** Cluster labels (0…k−1) after replaying merges until k clusters remain. */
function cut(merges: [number, number][], n: number, k: number): number[] {
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let m = 0; m < n - k && m < merges.length; m++) parent[find(merges[m]![1])] = find(merges[m]![0]);
  const ids = new Map<number, number>();
  return parent.map((_, i) => {
    const root = find(i);
    if (!ids.has(root)) ids.set(root, ids.size);
    return ids.get(root)!;
  });
}

interface Gaussian {
  mean: Float64Array;
  variance: Float64Array;
  /** Log-likelihood constant: −½ Σ log(2π σ²). */
  norm: number;
}

function fitGaussians(features: Float64Array[], labels: Int32Array, k: number): (Gaussian | undefined)[] {
  const sums = Array.from({ length: k }, () => new Float64Array(CEPSTRA));
  const squares = Array.from({ length: k }, () => new Float64Array(CEPSTRA));
  const counts = new Array<number>(k).fill(0);
  labels.forEach((c, f) => {
    if (c < 0) return;
    const x = features[f]!;
    counts[c]!++;
    for (let d = 0; d < CEPSTRA; d++) {
      sums[c]![d]! += x[d]!;
      squares[c]![d]! += x[d]! * x[d]!;
    }
  });
  return counts.map((n, c) => {
    if (n < 10) return undefined;
    const mean = sums[c]!.map((s) => s / n);
    const variance = squares[c]!.map((s, d) => Math.max(0.01, s / n - mean[d]! ** 2));
    const norm = -0.5 * variance.reduce((s, v) => s + Math.log(2 * Math.PI * v), 0);
    return { mean, variance, norm };
  });
}

function logLikelihood(g: Gaussian, x: Float64Array): number {
  let s = g.norm;
  for (let d = 0; d < CEPSTRA; d++) s -= (x[d]! - g.mean[d]!) ** 2 / (2 * g.variance[d]!);
  return s;
}

/**
 * Re-assign every speech frame to a speaker by Viterbi over per-speaker Gaussians, with a cost for each change of
 * speaker (so a turn needs a few hundred ms of evidence); a few rounds, refitting the Gaussians each time.
 */
function resegment(features: Float64Array[], initial: Int32Array, k: number, options: DiarizeOptions): Int32Array {
  let labels = initial;
  const frames = labels.reduce<number[]>((list, c, f) => (c >= 0 ? (list.push(f), list) : list), []);
  const penalty = options.switchCost ?? SWITCH_COST;
  for (let round = 0; round < 3; round++) {
    const models = fitGaussians(features, labels, k);
    const live = models.map((m, c) => (m ? c : -1)).filter((c) => c >= 0);
    if (live.length < 2) return labels;
    const score = new Float64Array(live.length);
    const back: Int8Array[] = [];
    frames.forEach((f, t) => {
      const x = features[f]!;
      const next = new Float64Array(live.length);
      const from = new Int8Array(live.length);
      let bestPrev = 0;
      for (let s = 1; s < live.length; s++) if (score[s]! > score[bestPrev]!) bestPrev = s;
      for (let s = 0; s < live.length; s++) {
        const stay = score[s]!;
        const move = score[bestPrev]! - penalty;
        const useStay = t === 0 || stay >= move;
        next[s] = (useStay ? stay : move) + logLikelihood(models[live[s]!]!, x);
        from[s] = useStay ? s : bestPrev;
      }
      score.set(next);
      back.push(from);
    });
    let s = 0;
    for (let j = 1; j < live.length; j++) if (score[j]! > score[s]!) s = j;
    const out = new Int32Array(labels.length).fill(-1);
    for (let t = frames.length - 1; t >= 0; t--) {
      out[frames[t]!] = live[s]!;
      s = back[t]![s]!;
    }
    labels = out;
  }
  return labels;
}

/** Separation of clustered points: the smallest distance between two cluster centres over the mean spread within clusters. */
function separation(points: Float64Array[], labels: number[]): number {
  const ids = [...new Set(labels.filter((c) => c >= 0))];
  const centres = ids.map((c) => centroid(points.filter((_, i) => labels[i] === c)));
  let spread = 0;
  let n = 0;
  points.forEach((p, i) => {
    const c = ids.indexOf(labels[i]!);
    if (c < 0) return;
    spread += Math.sqrt(dist2(p, centres[c]!));
    n++;
  });
  let gap = Infinity;
  for (let a = 0; a < centres.length; a++) for (let b = a + 1; b < centres.length; b++) gap = Math.min(gap, Math.sqrt(dist2(centres[a]!, centres[b]!)));
  return gap / Math.max(1e-9, spread / Math.max(1, n));
}

function distinctLabels(labels: Int32Array): number {
  return new Set(Array.from(labels).filter((c) => c >= 0)).size;
}

/**
 * The speaker of a time span: the turn overlapping it most, else the nearest turn.
 *
 * @example
 * speakerAt(turns, 1200, 1500); // 0
 */
export function speakerAt(turns: readonly SpeakerTurn[], startMs: number, endMs: number): number {
  let best = -1;
  let bestOverlap = 0;
  let nearest = 0;
  let nearestGap = Infinity;
  for (const t of turns) {
    const overlap = Math.min(endMs, t.endMs) - Math.max(startMs, t.startMs);
    if (overlap > bestOverlap) {
      bestOverlap = overlap;
      best = t.speaker;
    }
    const gap = Math.abs((startMs + endMs) / 2 - (t.startMs + t.endMs) / 2);
    if (gap < nearestGap) {
      nearestGap = gap;
      nearest = t.speaker;
    }
  }
  return best >= 0 ? best : nearest;
}

function centroid(points: Float64Array[]): Float64Array {
  const out = new Float64Array(points[0]?.length ?? 0);
  for (const p of points) for (let d = 0; d < out.length; d++) out[d]! += p[d]! / points.length;
  return out;
}

function dist2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

/** Pitch (Hz) of the 40 ms from `from`, by normalised autocorrelation; 0 when unvoiced or too quiet. */
function framePitch(samples: Int16Array, sampleRate: number, from: number): number {
  const size = Math.round(0.04 * sampleRate);
  const minLag = Math.floor(sampleRate / 400);
  const maxLag = Math.ceil(sampleRate / 60);
  if (from + size + maxLag > samples.length) return 0;
  let e0 = 0;
  for (let i = 0; i < size; i++) e0 += samples[from + i]! * samples[from + i]!;
  if (e0 < size * 300 * 300) return 0;
  let bestLag = 0;
  let best = 0;
  for (let lag = minLag; lag <= maxLag; lag++) {
    let c = 0;
    let e1 = 0;
    for (let i = 0; i < size; i++) {
      const y = samples[from + i + lag]!;
      c += samples[from + i]! * y;
      e1 += y * y;
    }
    const r = c / Math.sqrt(e0 * e1 + 1);
    if (r > best) {
      best = r;
      bestLag = lag;
    }
  }
  return best > 0.6 && bestLag > 0 ? sampleRate / bestLag : 0;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return Math.max(p, NFFT);
}

/** Triangular mel filters between 80 Hz and min(7600 Hz, Nyquist): per band, a list of [bin, weight]. */
function melBank(nfft: number, sampleRate: number, bands: number): [number, number][][] {
  const toMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
  const toHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);
  const lo = toMel(80);
  const hi = toMel(Math.min(7600, sampleRate / 2 - 100));
  const edges = Array.from({ length: bands + 2 }, (_, i) => toHz(lo + ((hi - lo) * i) / (bands + 1)));
  const binHz = sampleRate / nfft;
  const out: [number, number][][] = [];
  for (let b = 0; b < bands; b++) {
    const [l, c, r] = [edges[b]!, edges[b + 1]!, edges[b + 2]!];
    const taps: [number, number][] = [];
    for (let bin = Math.floor(l / binHz); bin <= Math.ceil(r / binHz) && bin <= nfft / 2; bin++) {
      const hz = bin * binHz;
      const w = hz < c ? (hz - l) / (c - l) : (r - hz) / (r - c);
      if (w > 0) taps.push([bin, w]);
    }
    if (taps.length === 0) taps.push([Math.min(nfft / 2, Math.round(c / binHz)), 1]);
    out.push(taps);
  }
  return out;
}

/** In-place iterative radix-2 complex FFT. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let j = 0; j < len / 2; j++) {
        const a = i + j;
        const b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}
