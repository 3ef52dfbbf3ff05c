/**
 * `earshot/server`: earshot as a ready server for media servers — Twilio Media Streams, FreeSWITCH mod_audio_fork,
 * Asterisk AudioSocket and chan_websocket, Jambonz — with per-call files, live events, a webhook and metrics.
 * To embed a single protocol in your own server instead, use the call sources (`fromTwilioMediaStream`, …).
 */
export { serve } from './serve.js';
export type { ServeOptions, EarshotServer } from './serve.js';
export { CallRun, fileSafe } from './call-pipeline.js';
export type { CallFileFormat, CallPipelineOptions } from './call-pipeline.js';
export { CallEvents } from './events.js';
export type { CallEvent, CallEventsOptions } from './events.js';
export { ServerMetrics } from './metrics.js';
export { Webhook } from './webhook.js';
export type { WebhookOptions } from './webhook.js';
export { TokenCheck, isLoopback } from './auth.js';
export { CALL_ROUTES } from './routes.js';
export type { CallRoute } from './routes.js';
