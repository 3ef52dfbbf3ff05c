/**
 * A jitter buffer for one RTP source (one SSRC): puts packets back in sequence order, drops duplicates and packets
 * that come too late, and declares a packet lost once the reordering window has passed, so the caller can fill
 * the hole with silence of the right length.
 *
 * Sequence numbers are extended past their 16-bit wrap and timestamps past their 32-bit wrap. A jump of more
 * than `maxDropout` ahead or `maxMisorder` behind is ignored unless the next packet confirms it (RFC 3550 A.1),
 * in which case the buffer resynchronises (a restarted sender that kept its SSRC).
 *
 * Memory is fixed: `capacity` slots, never more. The buffer has no timers of its own: the owner calls
 * {@link JitterBuffer.poll} (every few ms) with the wall time, and every push may release packets too.
 */

/** A packet as the jitter buffer keeps it (the payload must be owned: copy it out of a reused datagram). */
export interface JitterPacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly payloadType: number;
  readonly marker: boolean;
  readonly payload: Uint8Array;
}

/** A packet released in order. */
export interface ReleasedPacket extends JitterPacket {
  /** Sequence number extended past the 16-bit wrap. */
  readonly extendedSequence: number;
  /** Timestamp extended past the 32-bit wrap (first released packet keeps its own value). */
  readonly extendedTimestamp: number;
  /** Packets declared lost just before this one. */
  readonly lostBefore: number;
  /** True for the first packet after a resynchronisation (the time line restarts here). */
  readonly resync: boolean;
}

/** Settings of a {@link JitterBuffer}. */
export interface JitterBufferOptions {
  /**
   * Reordering window in ms. A hole is given up when packets behind it have waited this long (wall time), or when
   * the newest packet is more than this much audio past the last one played. Default 80.
   */
  windowMs?: number;
  /** RTP timestamp clock rate (Hz), to measure the audio behind a hole. Default 8000. */
  clockRate?: number;
  /** Most packets held (a power of two is fastest). Default 256. */
  capacity?: number;
  /** Largest forward sequence jump taken as loss rather than a restart. Default 3000 (RFC 3550). */
  maxDropout?: number;
  /** Largest backward sequence jump taken as a late packet rather than a restart. Default 100 (RFC 3550). */
  maxMisorder?: number;
}

/** What happened to a pushed packet. */
export type PushOutcome = 'buffered' | 'duplicate' | 'late' | 'stray';

/** Counters of a jitter buffer. */
export interface JitterStats {
  /** Packets accepted into the buffer. */
  buffered: number;
  duplicates: number;
  /** Packets that arrived after their place had been declared lost. */
  late: number;
  /** Sequence numbers declared lost. */
  lost: number;
  /** Packets far outside the sequence window, dropped pending confirmation of a restart. */
  stray: number;
  /** Restarts of the sequence (confirmed big jumps). */
  resyncs: number;
}

const HISTORY = 1024;

/** Reorders, dedupes and declares loss for one RTP source. See the module doc. */
export class JitterBuffer {
  readonly #windowMs: number;
  readonly #windowTs: number;
  readonly #capacity: number;
  readonly #maxDropout: number;
  readonly #maxMisorder: number;
  readonly #release: (packet: ReleasedPacket) => void;

  readonly #slots: Array<JitterPacket | undefined>;
  readonly #slotExt: Float64Array;
  readonly #arrival: Float64Array;
  /** Extended sequence numbers of recently released packets (to tell a duplicate from a late packet). */
  readonly #history = new Float64Array(HISTORY).fill(-1);

  #started = false;
  #count = 0;
  #next = 0;
  #highest = 0;
  #highestTs = 0;
  #lastTs = 0;
  #lastExtTs = 0;
  #released = false;
  #badSeq = -1;
  #pendingLost = 0;
  #pendingResync = false;
  #holeSince = Number.NaN;

  readonly stats: JitterStats = { buffered: 0, duplicates: 0, late: 0, lost: 0, stray: 0, resyncs: 0 };

  /**
   * @param options - window, clock rate, capacity, RFC 3550 jump limits.
   * @param release - called with each packet in order, synchronously from `push`, `poll` or `flush`.
   */
  constructor(options: JitterBufferOptions, release: (packet: ReleasedPacket) => void) {
    this.#windowMs = options.windowMs ?? 80;
    this.#windowTs = Math.round((this.#windowMs * (options.clockRate ?? 8000)) / 1000);
    this.#capacity = Math.max(2, Math.floor(options.capacity ?? 256));
    this.#maxDropout = options.maxDropout ?? 3000;
    this.#maxMisorder = options.maxMisorder ?? 100;
    this.#slots = new Array<JitterPacket | undefined>(this.#capacity).fill(undefined);
    this.#slotExt = new Float64Array(this.#capacity).fill(-1);
    this.#arrival = new Float64Array(this.#capacity);
    this.#release = release;
  }

  /** Packets held now. */
  get size(): number {
    return this.#count;
  }

  /**
   * Take one packet; releases every packet that is now in order, and skips holes whose window has passed.
   * @param packet - the packet (its payload is kept, not copied).
   * @param now - wall time in ms (any monotonic clock; the same one given to `poll`).
   */
  push(packet: JitterPacket, now: number): PushOutcome {
    const seq = packet.sequence & 0xffff;
    if (!this.#started) {
      this.#start(seq, packet.timestamp);
    } else {
      const delta = ((seq - (this.#highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      if (delta > this.#maxDropout || delta < -this.#maxMisorder) {
        if (seq !== this.#badSeq) {
          this.#badSeq = (seq + 1) & 0xffff;
          this.stats.stray++;
          return 'stray';
        }
        // Two packets in sequence far from the old ones: the sender restarted. Play out what we hold, start over.
        this.flush();
        this.stats.resyncs++;
        this.#start(seq, packet.timestamp);
        this.#pendingResync = true;
      }
    }
    this.#badSeq = -1;
    const ext = this.#extend(seq);
    if (ext < this.#next) {
      if (this.#history[ext % HISTORY] === ext) {
        this.stats.duplicates++;
        return 'duplicate';
      }
      this.stats.late++;
      return 'late';
    }
    // Make room: a packet beyond the window forces the oldest out (played if present, lost if not).
    if (this.#count === 0 && ext >= this.#next + this.#capacity) {
      const skip = ext - this.#capacity + 1 - this.#next;
      this.#next += skip;
      this.#pendingLost += skip;
      this.stats.lost += skip;
    }
    while (ext >= this.#next + this.#capacity) this.#skipHole(true);
    const slot = ext % this.#capacity;
    if (this.#slotExt[slot] === ext) {
      this.stats.duplicates++;
      return 'duplicate';
    }
    this.#slots[slot] = packet;
    this.#slotExt[slot] = ext;
    this.#arrival[slot] = now;
    this.#count++;
    this.stats.buffered++;
    if (ext > this.#highest) {
      this.#highest = ext;
      this.#highestTs = packet.timestamp >>> 0;
    }
    this.#drain(now);
    return 'buffered';
  }

  /** Release packets whose wait has passed. Call every few ms with the wall time. */
  poll(now: number): void {
    if (this.#count > 0) this.#drain(now);
  }

  /** Wall time (ms) at which the current hole gives up, if packets wait behind one. */
  get deadline(): number | undefined {
    return this.#count > 0 && !Number.isNaN(this.#holeSince) ? this.#holeSince + this.#windowMs : undefined;
  }

  /** Release everything held, in order, declaring the holes between lost. */
  flush(): void {
    while (this.#count > 0) this.#skipHole(false);
  }

  #start(seq: number, timestamp: number): void {
    this.#started = true;
    // Keep extended numbers growing across restarts, so the history never confuses old and new packets.
    const base = this.#next + this.#capacity + HISTORY + 0x10000;
    const ext = base - (base & 0xffff) + seq;
    this.#next = ext;
    this.#highest = ext;
    this.#highestTs = timestamp >>> 0;
    this.#holeSince = Number.NaN;
    this.#pendingLost = 0;
  }

  #extend(seq: number): number {
    const delta = ((seq - (this.#highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    return this.#highest + delta;
  }

  /** Release in-order packets; skip the hole at the head if its window (time or audio) has passed. */
  #drain(now: number): void {
    for (;;) {
      if (this.#emitHead()) continue;
      if (this.#count === 0) {
        this.#holeSince = Number.NaN;
        return;
      }
      if (Number.isNaN(this.#holeSince)) this.#holeSince = this.#oldestArrival();
      const waitedOut = now - this.#holeSince >= this.#windowMs;
      const audioBehind = this.#released && ((this.#highestTs - this.#lastTs) | 0) > this.#windowTs;
      if (!waitedOut && !audioBehind) return;
      this.#skipHole(false);
    }
  }

  /** Emit the head slot if present. */
  #emitHead(): boolean {
    const slot = this.#next % this.#capacity;
    if (this.#slotExt[slot] !== this.#next) return false;
    const packet = this.#slots[slot]!;
    this.#slots[slot] = undefined;
    this.#slotExt[slot] = -1;
    this.#count--;
    this.#history[this.#next % HISTORY] = this.#next;
    const ts = packet.timestamp >>> 0;
    const extTs = this.#released ? this.#lastExtTs + ((ts - this.#lastTs) | 0) : ts;
    this.#released = true;
    this.#lastTs = ts;
    this.#lastExtTs = extTs;
    const lostBefore = this.#pendingLost;
    const resync = this.#pendingResync;
    this.#pendingLost = 0;
    this.#pendingResync = false;
    this.#next++;
    this.#release({ ...packet, extendedSequence: this.#next - 1, extendedTimestamp: extTs, lostBefore, resync });
    return true;
  }

  /** Declare the head hole lost and move to the next held packet (or one step when `oneStep`). */
  #skipHole(oneStep: boolean): void {
    if (this.#emitHead()) return;
    if (this.#count === 0) {
      // Nothing held: jump straight to where the caller needs room.
      this.#next++;
      this.#pendingLost++;
      this.stats.lost++;
      return;
    }
    let steps = 0;
    do {
      this.#next++;
      steps++;
      if (oneStep) break;
    } while (this.#slotExt[this.#next % this.#capacity] !== this.#next && steps < this.#capacity);
    this.#pendingLost += steps;
    this.stats.lost += steps;
    this.#holeSince = Number.NaN;
  }

  #oldestArrival(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#capacity; i++) if (this.#slotExt[i]! >= 0 && this.#arrival[i]! < oldest) oldest = this.#arrival[i]!;
    return oldest;
  }
}
