// Traces, on the OpenTelemetry API. cleave's spans (a request at the gateway and at its
// replica, a call on both sides, an event, a task) are made with the API alone, so a user's
// own spans, made with the same API in a handler, join them. The SDK that records and exports
// them is installed in every cleave process only when the standard OTEL_EXPORTER_OTLP_ENDPOINT
// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: off, no span is made at all, since a span
// and its context cost microseconds per request (bench/pipeline.ts) for nobody to read.
//
// Between processes a trace travels as W3C Trace Context (`traceparent`, `tracestate`) in a
// carrier: HTTP headers to a replica, a field of a call frame or a NATS message, an event's or
// a task's envelope.
//
// Even the API is loaded only by startTracing: importing it costs each process some 40 ms of
// start-up, which a process that traces nothing need not pay.

import type { Attributes, Context, Span, SpanKind as OtelSpanKind, Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';

type Api = typeof import('@opentelemetry/api');

/** OpenTelemetry's span kinds, by their numbers, so naming one loads nothing. */
export const SpanKind = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/** SpanStatusCode.ERROR */
const STATUS_ERROR = 2;

/** W3C Trace Context as a plain object: `traceparent` and, when there is one, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/** A span and the context that holds it, to run code under (`within`) and to pass on (`carrierOf`). */
export interface ActiveSpan {
  span: Span;
  context: Context;
}

/** Set by startTracing; read only while `on`. */
let api: Api | undefined;
let tracer: Tracer | undefined;
let on = false;
let shutdown: (() => Promise<void>) | undefined;

/** Whether cleave makes spans in this process (startTracing installed the SDK). */
export function tracingOn(): boolean {
  return on;
}

/** Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled. */
export function tracesWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

export interface TracingOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME says otherwise: the service, `gateway`, or the app's name. */
  serviceName: string;
  /** `service.namespace`: the app's name. */
  app: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Installs the SDK when the environment asks for traces: spans batched and sent over OTLP/HTTP
 * (JSON) to the endpoint, W3C Trace Context between processes, the active span carried across
 * awaits. Loaded only then, so a process without traces never reads the SDK's modules.
 */
export async function startTracing(options: TracingOptions): Promise<void> {
  const env = options.env ?? process.env;
  if (on || !tracesWanted(env)) return;
  const { installTracing } = await import('./tracing-sdk.ts');
  api = await import('@opentelemetry/api');
  shutdown = installTracing({ ...options, env });
  tracer = api.trace.getTracer('cleave');
  on = true;
}

/** Sends the spans still batched (bounded: a collector that is gone costs at most its timeout). */
export async function stopTracing(): Promise<void> {
  const stop = shutdown;
  shutdown = undefined;
  // Still on while the last spans leave: a line logged meanwhile names its trace.
  await stop?.();
  on = false;
}

/**
 * A span, started now. Its parent: the trace in `carrier` when one is given (another process's
 * span), a new trace when `carrier` is null (a request from a client whose trace context is not
 * believed), else the span active here.
 */
export function startSpan(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  carrier?: Readonly<Record<string, string | string[] | undefined>> | null,
): ActiveSpan {
  const otel = api as Api;
  const parent =
    carrier === null
      ? otel.ROOT_CONTEXT
      : carrier === undefined
        ? otel.context.active()
        : otel.propagation.extract(otel.ROOT_CONTEXT, carrier);
  const span = (tracer as Tracer).startSpan(name, { kind: kind as unknown as OtelSpanKind, attributes }, parent);
  return { span, context: otel.trace.setSpan(parent, span) };
}

/**
 * The carrier a message from another process brought, reduced to its two strings; null (a new
 * trace) for anything else. What crosses a process boundary is checked here and only here, so
 * a malformed one is a trace lost, never a call or a task failed.
 */
export function carrierFrom(value: unknown): TraceCarrier | null {
  if (typeof value !== 'object' || value === null) return null;
  const { traceparent, tracestate } = value as { traceparent?: unknown; tracestate?: unknown };
  if (typeof traceparent !== 'string' || traceparent.length > MAX_TRACEPARENT) return null;
  return typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE
    ? { traceparent, tracestate }
    : { traceparent };
}

/** W3C Trace Context's sizes: 55 characters for version 00, 512 for a tracestate worth keeping. */
const MAX_TRACEPARENT = 128;
const MAX_TRACESTATE = 512;

/** Runs `work` with `active` as the current span: spans and log lines in it belong to it. */
export function within<T>(active: ActiveSpan | undefined, work: () => T): T {
  return active === undefined ? work() : (api as Api).context.with(active.context, work);
}

/** The carrier of `active`, or of the span active here: undefined when there is no trace. */
export function carrierOf(active?: ActiveSpan): TraceCarrier | undefined {
  if (!on) return undefined;
  const otel = api as Api;
  const carrier: TraceCarrier = {};
  otel.propagation.inject(active?.context ?? otel.context.active(), carrier);
  return carrier.traceparent === undefined ? undefined : carrier;
}

/** Ends `active`, marked failed when `error` is given (its code, when it has one, as an attribute). */
export function endSpan(active: ActiveSpan | undefined, error?: unknown): void {
  if (active === undefined) return;
  if (error !== undefined) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    active.span.setStatus({ code: STATUS_ERROR, message: typeof message === 'string' ? message : 'failed' });
    if (typeof code === 'string') active.span.setAttribute('error.type', code);
  }
  active.span.end();
}

/** Ends a span around `work`, failed when it throws or rejects. */
export function spanAround<T>(active: ActiveSpan | undefined, work: () => Promise<T>): Promise<T> {
  if (active === undefined) return work();
  const result = within(active, work);
  result.then(
    () => endSpan(active),
    (error: unknown) => endSpan(active, error),
  );
  return result;
}

/**
 * Runs `work` (an event's listener, a task) under a consumer span whose parent is the span that
 * sent it, carried with the message; a message that came untraced starts a trace of its own.
 */
export function consuming<T>(
  name: string,
  attributes: Attributes,
  carried: unknown,
  work: () => T | Promise<T>,
): T | Promise<T> {
  if (!on) return work();
  return spanAround(startSpan(name, SpanKind.CONSUMER, attributes, carrierFrom(carried)), async () => work());
}

/** The ids a log line of `span`'s work carries (the OpenTelemetry log data model's names). */
export function traceFieldsOf(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (span === undefined) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * A pino mixin: every line written under a live span carries its ids. An ended span's context
 * can outlive it (a timer or a connection first made while a request ran keeps that request's
 * context), and must not stamp later lines with a trace they are not part of.
 */
export function activeTraceFields(): object {
  if (!on) return {};
  const otel = api as Api;
  const span = otel.trace.getSpan(otel.context.active());
  return (span?.isRecording() && traceFieldsOf(span)) || {};
}
