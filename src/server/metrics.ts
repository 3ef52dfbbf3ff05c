/**
 * The server's Prometheus metrics, on a Registry of its own (never prom-client's global one), so two servers in one
 * process — or a host application with metrics of its own — do not collide.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The counters, gauges and histograms of one `serve()` instance.
 *
 * @example
 * const metrics = new ServerMetrics();
 * metrics.finals.inc({ protocol: 'twilio' });
 * const text = await metrics.registry.metrics(); // Prometheus text format
 */
export class ServerMetrics {
  /** The registry `GET /metrics` renders. */
  readonly registry = new Registry();
  /** Calls in progress, by protocol. */
  readonly activeCalls: Gauge<'protocol'>;
  /** Calls accepted since start, by protocol. */
  readonly calls: Counter<'protocol'>;
  /** Calls refused (over the concurrency cap, bad token), by reason code. */
  readonly refused: Counter<'code'>;
  /** Seconds of call audio received, by protocol. */
  readonly audioSeconds: Counter<'protocol'>;
  /** Final transcript events produced. */
  readonly finals: Counter<'protocol'>;
  /** Wall seconds from the end of an utterance's audio arriving to its final leaving the pipeline. */
  readonly endOfSpeech: Histogram<'protocol'>;
  /** Errors by code (a call's pipeline, malformed frames, webhook deliveries, sinks). */
  readonly errors: Counter<'code'>;
  /** Malformed frames received (counted and skipped; the call goes on), by protocol. */
  readonly malformedFrames: Counter<'protocol'>;
  /** Final events the webhook delivered, and those dropped (queue overflow or retries spent). */
  readonly webhook: Counter<'outcome'>;
  /** SSE subscribers cut off for not reading (their buffer passed its bound). */
  readonly sseDropped: Counter;

  constructor() {
    const registers = [this.registry];
    this.activeCalls = new Gauge({ name: 'earshot_active_calls', help: 'Calls in progress', labelNames: ['protocol'], registers });
    this.calls = new Counter({ name: 'earshot_calls_total', help: 'Calls accepted', labelNames: ['protocol'], registers });
    this.refused = new Counter({ name: 'earshot_calls_refused_total', help: 'Connections refused, by error code', labelNames: ['code'], registers });
    this.audioSeconds = new Counter({ name: 'earshot_audio_seconds_total', help: 'Seconds of call audio received', labelNames: ['protocol'], registers });
    this.finals = new Counter({ name: 'earshot_finals_total', help: 'Final transcript events', labelNames: ['protocol'], registers });
    this.endOfSpeech = new Histogram({
      name: 'earshot_end_of_speech_latency_seconds',
      help: 'Wall time from the end of an utterance arriving to its final event',
      labelNames: ['protocol'],
      buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13],
      registers,
    });
    this.errors = new Counter({ name: 'earshot_errors_total', help: 'Errors, by earshot error code', labelNames: ['code'], registers });
    this.malformedFrames = new Counter({ name: 'earshot_malformed_frames_total', help: 'Malformed frames received and skipped', labelNames: ['protocol'], registers });
    this.webhook = new Counter({ name: 'earshot_webhook_events_total', help: 'Webhook deliveries, by outcome (delivered, dropped)', labelNames: ['outcome'], registers });
    this.sseDropped = new Counter({ name: 'earshot_sse_clients_dropped_total', help: 'SSE clients cut off for not reading', registers });
  }
}
