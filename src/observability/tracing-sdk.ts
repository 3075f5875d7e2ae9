// The OpenTelemetry SDK as cleave installs it (tracing.ts loads this module only when the
// environment asks for traces): what the standard OTEL_* variables say, read here because the
// SDK's own packages leave reading them to a Node "auto" package cleave doesn't take on.

import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Outage } from '../shared/outage.ts';
import type { TracingOptions } from './tracing.ts';

/** How long a stopping process waits for its last spans to reach the collector. */
const SHUTDOWN_MS = 2000;

/** Installs the SDK globally; returns what sends the last spans and lets go of it. */
export function installTracing(options: Required<Pick<TracingOptions, 'env'>> & TracingOptions): () => Promise<void> {
  const { env, log } = options;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName,
      'service.namespace': options.app,
      'host.name': hostname(),
      'process.pid': process.pid,
    }).merge(detectResources({ detectors: [envDetector] })),
    sampler: samplerOf(env),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new ReportingExporter(new OTLPTraceExporter(), log),
        ...numberFrom(env, 'OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis'),
        ...numberFrom(env, 'OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis'),
        ...numberFrom(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize'),
        ...numberFrom(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize'),
      }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      provider.shutdown().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  };
}

/** OTEL_TRACES_SAMPLER and its argument, as the specification names them; parent-based, always on, by default. */
export function samplerOf(env: NodeJS.ProcessEnv): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const argument = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = Number.isFinite(argument) && argument >= 0 && argument <= 1 ? argument : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function numberFrom<K extends string>(env: NodeJS.ProcessEnv, name: string, key: K): Partial<Record<K, number>> {
  const value = Number(env[name]);
  return env[name] !== undefined && Number.isFinite(value) && value > 0 ? ({ [key]: value } as Record<K, number>) : {};
}

/**
 * The OTLP exporter, heard: a collector that can't be reached is logged once when exports
 * start failing and once when they succeed again (shared/outage.ts), not per batch; the
 * request being traced never waits on it.
 */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #outage: Outage;

  constructor(inner: SpanExporter, log: Logger) {
    this.#inner = inner;
    this.#outage = new Outage(
      { error: (obj, msg) => log.warn(obj, msg), info: (obj, msg) => log.info(obj, msg) },
      {},
      {
        failedMessage: 'traces cannot be exported to the OTLP endpoint; spans are dropped until it answers',
        resumedMessage: 'traces exported again',
      },
    );
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.#outage.succeeded();
      else this.#outage.failed(result.error ?? new Error('export failed'), spans.length);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
