/**
 * Speaker diarization for the emulator, done on the audio itself: energy-based speech segments, cut into windows of
 * at most {@link DiarizeOptions.windowMs}, each described by its mean log mel spectrum (a small FFT), then clustered
 * by k-means. With a speaker count k is fixed; without one, k is the count whose clustering has the best silhouette,
 * or 1 when no split is convincing. Enough to tell two different voices apart (flite's `rms` and `slt` separate).
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
  /** Longest window one feature describes, ms (default 1500). Shorter windows follow quick turns. */
  windowMs?: number;
  /** Silhouette below which the audio is taken as one speaker (default 0.3). */
  minSilhouette?: number;
  /** Smallest distance between voice centres for an automatic split (default 6.5). */
  minSeparation?: number;
}

const FRAME = 400; // 25 ms at 16 kHz
const HOP = 160; // 10 ms
const NFFT = 512;
const BANDS = 24;
/** Scale of the pitch feature: one octave counts like this many units of log-mel distance. */
const PITCH_WEIGHT = 8;
const MEL_WEIGHT = 1;
/** Windows shorter than this (frames of 10 ms) are not used to find the voices. */
const CORE_FRAMES = 60;
/** Smallest distance between two voices' centres (pitch and envelope units) for them to count as two. */
const MIN_SEPARATION = 6.5;

/**
 * Split mono s16 audio into speaker turns.
 *
 * @param samples - Mono signed 16-bit PCM.
 * @param sampleRate - Its rate (16 kHz expected; others work with scaled frames).
 * @param options - Speaker count, window length.
 * @returns Turns in time order; empty when there is no speech.
 * @example
 * const turns = diarize(pcm, 16000, { speakerCount: 2 });
 * // [{ startMs: 0, endMs: 2810, speaker: 0 }, { startMs: 3410, endMs: 6020, speaker: 1 }, …]
 */
export function diarize(samples: Int16Array, sampleRate: number, options: DiarizeOptions = {}): SpeakerTurn[] {
  const scale = sampleRate / 16000;
  const frame = Math.max(64, Math.round(FRAME * scale));
  const hop = Math.max(16, Math.round(HOP * scale));
  const nfft = nextPow2(frame);
  const frames = Math.max(0, Math.floor((samples.length - frame) / hop) + 1);
  if (frames === 0) return [];
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
  const segments = merged.filter(([a, b]) => b - a >= minFrames);
  if (segments.length === 0) return [];

  // 3. Windows of at most windowMs inside segments, each with a mean log-mel feature over its speech frames.
  const winFrames = Math.max(minFrames, Math.round((options.windowMs ?? 1500) / hopMs));
  const windows: { a: number; b: number }[] = [];
  for (const [a, b] of segments) {
    const n = Math.max(1, Math.round((b - a) / winFrames));
    for (let i = 0; i < n; i++) windows.push({ a: a + Math.floor(((b - a) * i) / n), b: a + Math.floor(((b - a) * (i + 1)) / n) });
  }
  const mel = melBank(nfft, sampleRate, BANDS);
  const re = new Float64Array(nfft);
  const im = new Float64Array(nfft);
  const hann = new Float64Array(frame);
  for (let i = 0; i < frame; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (frame - 1));
  const features = windows.map(({ a, b }) => {
    const acc = new Float64Array(BANDS);
    let count = 0;
    for (let f = a; f < b; f++) {
      if (speech[f] !== 1) continue;
      const o = f * hop;
      re.fill(0);
      im.fill(0);
      for (let i = 0; i < frame; i++) re[i] = (samples[o + i]! / 32768) * hann[i]!;
      fft(re, im);
      for (let band = 0; band < BANDS; band++) {
        let e = 0;
        for (const [bin, w] of mel[band]!) e += w * (re[bin]! * re[bin]! + im[bin]! * im[bin]!);
        acc[band]! += Math.log(e + 1e-9);
      }
      count++;
    }
    for (let band = 0; band < BANDS; band++) acc[band] = acc[band]! / Math.max(1, count);
    // Remove the overall level so loudness does not decide the speaker.
    const mean = acc.reduce((s, v) => s + v, 0) / BANDS;
    for (let band = 0; band < BANDS; band++) acc[band] = acc[band]! - mean;
    const f0 = medianPitch(samples, sampleRate, a * hop, b * hop + frame);
    return { mel: acc, f0 };
  });

  // 4. Cluster on the voice's pitch (octaves) and its spectral envelope.
  const pitched = features.filter((f) => f.f0 > 0);
  const meanF0 = pitched.length ? pitched.reduce((s, f) => s + Math.log2(f.f0), 0) / pitched.length : 0;
  const labels = cluster(
    features.map((f) => {
      const v = new Float64Array(BANDS + 1);
      v.set(f.mel.map((x) => x * MEL_WEIGHT));
      v[BANDS] = f.f0 > 0 ? (Math.log2(f.f0) - meanF0) * PITCH_WEIGHT : 0;
      return v;
    }),
    windows.map((w) => w.b - w.a),
    options,
  );

  // 5. Turns: consecutive windows with one speaker, speakers numbered by first appearance.
  const order = new Map<number, number>();
  const turns: SpeakerTurn[] = [];
  windows.forEach((w, i) => {
    const raw = labels[i]!;
    if (!order.has(raw)) order.set(raw, order.size);
    const speaker = order.get(raw)!;
    const startMs = w.a * hopMs;
    const endMs = w.b * hopMs + ((frame - hop) * 1000) / sampleRate;
    const last = turns[turns.length - 1];
    if (last && last.speaker === speaker && startMs - last.endMs < 300) last.endMs = endMs;
    else turns.push({ startMs: Math.round(startMs), endMs: Math.round(endMs), speaker });
  });
  for (const t of turns) t.endMs = Math.round(t.endMs);
  return turns;
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

function cluster(points: Float64Array[], lengths: number[], options: DiarizeOptions): number[] {
  const n = points.length;
  if (n === 0) return [];
  // Cluster the windows long enough to describe a voice; short blips join the nearest voice afterwards.
  let core = points.map((_, i) => i).filter((i) => lengths[i]! >= CORE_FRAMES);
  if (core.length < 2) core = points.map((_, i) => i);
  const corePoints = core.map((i) => points[i]!);
  let centres: Float64Array[] = [centroids(corePoints, new Array<number>(corePoints.length).fill(0), 1)[0]!];
  if (options.speakerCount !== undefined) {
    const k = Math.max(1, Math.min(corePoints.length, Math.round(options.speakerCount)));
    centres = centroids(corePoints, kmeans(corePoints, k), k);
  } else {
    const maxK = Math.min(corePoints.length - 1, options.maxSpeakers ?? 6);
    let bestScore = options.minSilhouette ?? 0.3;
    for (let k = 2; k <= maxK; k++) {
      const labels = kmeans(corePoints, k);
      const cs = centroids(corePoints, labels, k);
      let minGap = Infinity;
      for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) minGap = Math.min(minGap, Math.sqrt(dist2(cs[a]!, cs[b]!)));
      const score = silhouette(corePoints, labels, k);
      // Voices differ by far more than one voice's sentences do: demand both a clean split and a real distance.
      if (score > bestScore && minGap > (options.minSeparation ?? MIN_SEPARATION)) {
        bestScore = score;
        centres = cs;
      }
    }
  }
  return points.map((p) => {
    let best = 0;
    for (let c = 1; c < centres.length; c++) if (dist2(p, centres[c]!) < dist2(p, centres[best]!)) best = c;
    return best;
  });
}

function centroids(points: Float64Array[], labels: number[], k: number): Float64Array[] {
  const dims = points[0]!.length;
  const out = Array.from({ length: k }, () => new Float64Array(dims));
  const counts = new Array<number>(k).fill(0);
  points.forEach((p, i) => {
    const c = labels[i]!;
    counts[c]!++;
    for (let d = 0; d < dims; d++) out[c]![d]! += p[d]!;
  });
  out.forEach((c, i) => c.forEach((v, d) => (c[d] = v / Math.max(1, counts[i]!))));
  return out;
}

function dist2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

/** k-means with deterministic farthest-point initialisation. */
function kmeans(points: Float64Array[], k: number): number[] {
  const n = points.length;
  if (k <= 1) return new Array<number>(n).fill(0);
  const dims = points[0]!.length;
  // Start from the point farthest from the centroid, then repeatedly the point farthest from the chosen ones.
  const centroid = new Float64Array(dims);
  for (const p of points) for (let d = 0; d < dims; d++) centroid[d]! += p[d]! / n;
  const centres: Float64Array[] = [];
  let first = 0;
  for (let i = 1; i < n; i++) if (dist2(points[i]!, centroid) > dist2(points[first]!, centroid)) first = i;
  centres.push(Float64Array.from(points[first]!));
  while (centres.length < k) {
    let far = 0;
    let farD = -1;
    for (let i = 0; i < n; i++) {
      const d = Math.min(...centres.map((c) => dist2(points[i]!, c)));
      if (d > farD) {
        farD = d;
        far = i;
      }
    }
    centres.push(Float64Array.from(points[far]!));
  }
  const labels = new Array<number>(n).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let bestC = 0;
      for (let c = 1; c < k; c++) if (dist2(points[i]!, centres[c]!) < dist2(points[i]!, centres[bestC]!)) bestC = c;
      if (labels[i] !== bestC) {
        labels[i] = bestC;
        changed = true;
      }
    }
    for (let c = 0; c < k; c++) {
      const members = points.filter((_, i) => labels[i] === c);
      if (members.length === 0) continue;
      const centre = new Float64Array(dims);
      for (const m of members) for (let d = 0; d < dims; d++) centre[d]! += m[d]! / members.length;
      centres[c] = centre;
    }
    if (!changed && iter > 0) break;
  }
  return labels;
}

/** Mean silhouette (−1..1) of a clustering; singletons score 0. */
function silhouette(points: Float64Array[], labels: number[], k: number): number {
  const n = points.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const sums = new Float64Array(k);
    const counts = new Float64Array(k);
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      sums[labels[j]!]! += Math.sqrt(dist2(points[i]!, points[j]!));
      counts[labels[j]!]! += 1;
    }
    const own = labels[i]!;
    if (counts[own] === 0) continue;
    const a = sums[own]! / counts[own]!;
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c]! > 0) b = Math.min(b, sums[c]! / counts[c]!);
    if (!Number.isFinite(b)) continue;
    total += (b - a) / Math.max(a, b);
  }
  return total / n;
}

/** Median pitch (Hz) of the voiced 40 ms frames in [from, to), by normalised autocorrelation; 0 when unvoiced. */
function medianPitch(samples: Int16Array, sampleRate: number, from: number, to: number): number {
  const size = Math.round(0.04 * sampleRate);
  const step = Math.round(0.02 * sampleRate);
  const minLag = Math.floor(sampleRate / 400);
  const maxLag = Math.ceil(sampleRate / 60);
  const found: number[] = [];
  for (let o = from; o + size + maxLag <= Math.min(to, samples.length); o += step) {
    let e0 = 0;
    for (let i = 0; i < size; i++) e0 += samples[o + i]! * samples[o + i]!;
    if (e0 < size * 300 * 300) continue; // too quiet to be voiced
    let bestLag = 0;
    let best = 0;
    for (let lag = minLag; lag <= maxLag; lag++) {
      let c = 0;
      let e1 = 0;
      for (let i = 0; i < size; i++) {
        const y = samples[o + i + lag]!;
        c += samples[o + i]! * y;
        e1 += y * y;
      }
      const r = c / Math.sqrt(e0 * e1 + 1);
      if (r > best) {
        best = r;
        bestLag = lag;
      }
    }
    if (best > 0.6 && bestLag > 0) found.push(sampleRate / bestLag);
  }
  if (found.length === 0) return 0;
  found.sort((x, y) => x - y);
  return found[Math.floor(found.length / 2)]!;
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
