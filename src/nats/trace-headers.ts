// A trace context as NATS message headers: an event's payload is the app's own JSON, so the
// emitting span's `traceparent` travels beside it, as HTTP carries it, never inside it.

import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { TraceCarrier } from '../observability/tracing.ts';

export function traceHeaders(trace: TraceCarrier | undefined): MsgHdrs | undefined {
  if (trace === undefined) return undefined;
  const carried = headers();
  for (const name in trace) carried.set(name, trace[name] as string);
  return carried;
}

export function traceOfHeaders(carried: MsgHdrs | undefined): TraceCarrier | undefined {
  const traceparent = carried?.get('traceparent');
  if (!traceparent) return undefined;
  const tracestate = carried?.get('tracestate');
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
