// A trace context as NATS message headers: an event's payload is the app's own JSON, so the
// emitting span's `traceparent` travels beside it, as HTTP carries it, never inside it. The
// one place a carrier becomes headers and back, for events and JetStream tasks alike.

import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { carrierFrom, type TraceCarrier } from '../observability/tracing.ts';

/** `trace` set on `into` (new headers when not given); undefined when there is nothing to carry. */
export function traceHeaders(trace: TraceCarrier | undefined, into?: MsgHdrs): MsgHdrs | undefined {
  const carrier = carrierFrom(trace);
  if (carrier === null) return into;
  const carried = into ?? headers();
  for (const name in carrier) carried.set(name, carrier[name] as string);
  return carried;
}

/** The trace context a message carries; undefined when it has none, or headers that don't decode. */
export function traceOfHeaders(message: { readonly headers?: MsgHdrs | undefined }): TraceCarrier | undefined {
  try {
    // Decoded on first read, and a header block another client wrote may not decode: that
    // throw, in a subscription's callback, would stop the connection reading.
    const carried = message.headers;
    return (
      carrierFrom({ traceparent: carried?.get('traceparent'), tracestate: carried?.get('tracestate') }) ?? undefined
    );
  } catch {
    return undefined;
  }
}
