/**
 * A cold source of bytes fetched from an http(s) URL (a recording on a web server or a signed storage link).
 */
import { Readable } from 'node:stream';
import { Observable, type Subscription } from 'rxjs';
import { EarshotError, InputError, InvalidArgumentError } from '../core/errors.js';
import type { ByteChunk } from '../core/types.js';
import { fromReadable } from './readable.js';

/** True for an `http://` or `https://` input (what {@link fromUrl} reads). */
export function isHttpUrl(input: string): boolean {
  return /^https?:\/\//i.test(input);
}

/**
 * The bytes at an http(s) URL, fetched when subscribed and read as the consumer asks for them (the body is a
 * stream: nothing is downloaded ahead). Unsubscribing aborts the request. Only the URL's origin appears in errors
 * (a signed link's query is a secret).
 *
 * @param url - An `http://` or `https://` URL.
 * @throws EARSHOT_INVALID_ARGUMENT (at once) for another scheme. At run time: EARSHOT_REQUEST_FAILED (no answer),
 *   EARSHOT_FILE_NOT_FOUND (a non-2xx status), and what {@link fromReadable} reports.
 * @example
 * ```ts
 * fromUrl('https://example.com/call.mp3').pipe(decode({ sampleRate: 16000, channels: 1 }), transcribe(local()));
 * ```
 */
export function fromUrl(url: string): Observable<ByteChunk> {
  if (typeof url !== 'string' || !isHttpUrl(url)) throw new InvalidArgumentError('fromUrl: expected an http:// or https:// URL');
  const origin = new URL(url).origin;
  return new Observable<ByteChunk>((subscriber) => {
    const controller = new AbortController();
    let inner: Subscription | undefined;
    fetch(url, { signal: controller.signal }).then(
      (res) => {
        if (subscriber.closed) return void res.body?.cancel().catch(() => undefined);
        if (!res.ok || !res.body) {
          void res.body?.cancel().catch(() => undefined);
          return subscriber.error(new InputError('EARSHOT_FILE_NOT_FOUND', `fetching ${origin}/… gave HTTP ${res.status}`, { statusCode: res.status, details: { origin } }));
        }
        inner = fromReadable(Readable.fromWeb(res.body as never)).subscribe(subscriber);
      },
      (err: unknown) => {
        if (!subscriber.closed) subscriber.error(new EarshotError('EARSHOT_REQUEST_FAILED', `cannot fetch ${origin}: ${(err as Error).message}`, { cause: err, details: { origin } }));
      },
    );
    return () => {
      controller.abort();
      inner?.unsubscribe();
    };
  });
}
