/**
 * Live events per call, for `GET /calls/:id/events` (Server-Sent Events): each call keeps a bounded history that a
 * late subscriber gets first, then every new event as it happens. A subscriber that does not read is cut off once its
 * socket buffer passes a bound (counted), so a slow dashboard cannot grow the server's memory.
 */
import type { ServerResponse } from 'node:http';

/** One live event of a call: the call started, a track joined, a transcript event, an error, the call ended. */
export interface CallEvent {
  /** `call` (started), `track`, `partial`, `final`, `error`, `end`. */
  type: string;
  /** The JSON payload (never a secret). */
  data: Record<string, unknown>;
}

/** Settings of {@link CallEvents}. */
export interface CallEventsOptions {
  /** Events kept per call for late subscribers (default 500; the oldest go first). */
  historySize?: number;
  /** Ended calls kept for late subscribers (default 100; the oldest go first). */
  endedCalls?: number;
  /** Bytes a subscriber may leave unread before it is cut off (default 1 MiB). */
  maxClientBufferBytes?: number;
  /** Called when a slow subscriber is cut off. */
  onClientDropped?: () => void;
}

interface CallChannel {
  id: string;
  protocol: string;
  startedAt: string;
  history: Array<{ id: number; text: string }>;
  next: number;
  clients: Set<ServerResponse>;
  ended: boolean;
}

/**
 * The per-call event channels of one server.
 *
 * @example
 * const events = new CallEvents();
 * const id = events.open('CA123', 'twilio');
 * events.publish(id, { type: 'final', data: { text: 'hello' } });
 * // in an HTTP handler: events.subscribe(id, res);
 */
export class CallEvents {
  readonly #calls = new Map<string, CallChannel>();
  readonly #ended: string[] = [];
  readonly #historySize: number;
  readonly #endedCalls: number;
  readonly #maxBuffer: number;
  readonly #onDropped: (() => void) | undefined;

  /** @param options - see {@link CallEventsOptions}. */
  constructor(options: CallEventsOptions = {}) {
    this.#historySize = options.historySize ?? 500;
    this.#endedCalls = options.endedCalls ?? 100;
    this.#maxBuffer = options.maxClientBufferBytes ?? 1024 * 1024;
    this.#onDropped = options.onClientDropped;
  }

  /**
   * Open a channel for a new call and return the id it is known by: `id` itself, or `id-2`, `id-3`… when a call of
   * that id is still live or remembered (a media server reconnecting the same call).
   */
  open(id: string, protocol: string): string {
    let unique = id;
    for (let n = 2; this.#calls.has(unique); n++) unique = `${id}-${n}`;
    this.#calls.set(unique, { id: unique, protocol, startedAt: new Date().toISOString(), history: [], next: 1, clients: new Set(), ended: false });
    return unique;
  }

  /** Publish an event on a call's channel (ignored for an unknown or ended call). */
  publish(callId: string, event: CallEvent): void {
    const ch = this.#calls.get(callId);
    if (!ch || ch.ended) return;
    const id = ch.next++;
    const text = `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
    ch.history.push({ id, text });
    if (ch.history.length > this.#historySize) ch.history.shift();
    for (const res of ch.clients) this.#send(ch, res, text);
  }

  /** Close a call's channel: subscribers get what is queued and their response ends; the history stays for a while. */
  end(callId: string): void {
    const ch = this.#calls.get(callId);
    if (!ch || ch.ended) return;
    ch.ended = true;
    for (const res of ch.clients) res.end();
    ch.clients.clear();
    this.#ended.push(callId);
    while (this.#ended.length > this.#endedCalls) this.#calls.delete(this.#ended.shift()!);
  }

  /** The calls still live: id, protocol and start time. */
  live(): Array<{ id: string; protocol: string; startedAt: string }> {
    return [...this.#calls.values()].filter((c) => !c.ended).map((c) => ({ id: c.id, protocol: c.protocol, startedAt: c.startedAt }));
  }

  /**
   * Serve `GET /calls/:id/events` on `res`: the history (after `Last-Event-ID` when given), then live events until
   * the call ends or the client goes. Returns false (nothing written) for an unknown call id.
   */
  subscribe(callId: string, res: ServerResponse, lastEventId?: string): boolean {
    const ch = this.#calls.get(callId);
    if (!ch) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': earshot call events\n\n');
    const after = Number(lastEventId ?? 0) || 0;
    for (const h of ch.history) if (h.id > after) res.write(h.text);
    if (ch.ended) {
      res.end();
      return true;
    }
    ch.clients.add(res);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      ch.clients.delete(res);
    });
    return true;
  }

  /** End every subscriber of every call (server shutdown). */
  closeAll(): void {
    for (const ch of this.#calls.values()) {
      for (const res of ch.clients) res.end();
      ch.clients.clear();
    }
  }

  #send(ch: CallChannel, res: ServerResponse, text: string): void {
    if (res.writableLength > this.#maxBuffer) {
      ch.clients.delete(res);
      res.destroy();
      this.#onDropped?.();
      return;
    }
    res.write(text);
  }
}
