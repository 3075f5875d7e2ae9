import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headers } from '@nats-io/transport-node';
import { traceHeaders, traceOfHeaders } from '../nats/trace-headers.ts';
import { carrierFrom, tracesWanted } from './tracing.ts';
import { samplerOf } from './tracing-sdk.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracesWanted', () => {
  it('asks for traces with an OTLP endpoint, unless the SDK or the exporter is switched off', () => {
    assert.equal(tracesWanted({}), false);
    assert.equal(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(tracesWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
    assert.equal(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'TRUE' }), false);
    assert.equal(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }), false);
  });
});

describe('carrierFrom', () => {
  it('keeps the two strings of a carrier another process sent, and nothing else', () => {
    assert.deepEqual(carrierFrom({ traceparent: TRACEPARENT, tracestate: 'a=1', 'x-cleave-reply': 'x' }), {
      traceparent: TRACEPARENT,
      tracestate: 'a=1',
    });
    assert.deepEqual(carrierFrom({ traceparent: TRACEPARENT, tracestate: [{ toString: 1 }] }), {
      traceparent: TRACEPARENT,
    });
  });

  it('gives null (a new trace) for anything that is not one', () => {
    for (const value of [undefined, null, 'x', 1, [], {}, { traceparent: 7 }, { traceparent: 'x'.repeat(500) }]) {
      assert.equal(carrierFrom(value), null, JSON.stringify(value));
    }
  });
});

describe('trace context in NATS headers', () => {
  it('carries a carrier both ways, beside headers already set', () => {
    const carried = traceHeaders({ traceparent: TRACEPARENT, tracestate: 'a=1' }, headers());
    assert.deepEqual(traceOfHeaders({ headers: carried }), { traceparent: TRACEPARENT, tracestate: 'a=1' });
    assert.equal(traceHeaders(undefined), undefined);
    assert.equal(traceOfHeaders({ headers: undefined }), undefined);
  });

  it('reads a message whose headers do not decode as one without a trace, never a throw', () => {
    const broken = {
      get headers(): never {
        throw new Error('invalid header block');
      },
    };
    assert.equal(traceOfHeaders(broken), undefined);
  });
});

describe('samplerOf', () => {
  it('reads OTEL_TRACES_SAMPLER and its argument as the specification names them', () => {
    assert.match(samplerOf({}).toString(), /ParentBased\{root=AlwaysOnSampler/);
    assert.equal(samplerOf({ OTEL_TRACES_SAMPLER: 'always_off' }).toString(), 'AlwaysOffSampler');
    assert.equal(
      samplerOf({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).toString(),
      'TraceIdRatioBased{0.25}',
    );
    assert.match(
      samplerOf({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }).toString(),
      /root=TraceIdRatioBased\{1\}/,
    );
  });
});
