// Traces across the forum's hops, as a collector receives them: `cleave start` and `cleave dev`
// with OTEL_EXPORTER_OTLP_ENDPOINT set to a local OTLP/HTTP receiver. A request's trace
// starts at the edge (a client's own traceparent believed only from a trusted proxy) and goes
// gateway → replica → ctx.call → the called action → an event's listener, one span per hop,
// each the child of the one before; every log line of the request names the trace.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';
import { sleep, until } from '../helpers/wait.ts';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const CONSUMER = 5;

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

/** Waits until the receiver holds a span that `matches`, and returns it. */
function spanWhere(receiver: OtlpReceiver, what: string, matches: (span: ReceivedSpan) => boolean) {
  return until(() => receiver.spans.find(matches), 10_000, what);
}

function childOf(receiver: OtlpReceiver, parent: ReceivedSpan, what: string, matches: (span: ReceivedSpan) => boolean) {
  return spanWhere(
    receiver,
    what,
    (span) => span.traceId === parent.traceId && span.parentSpanId === parent.spanId && matches(span),
  );
}

async function signUpAndPost(url: string, username: string, headers: Record<string, string> = {}) {
  const json = { 'content-type': 'application/json', ...headers };
  const signup = await fetch(`${url}/api/signup`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ username, password: 'correct horse' }),
  });
  assert.equal(signup.status, 201);
  const login = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ username, password: 'correct horse' }),
  });
  const { token } = (await login.json()) as { token: string };
  const post = await fetch(`${url}/api/posts`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${token}` },
    body: JSON.stringify({ text: 'traced' }),
  });
  assert.equal(post.status, 201);
  await post.arrayBuffer();
  return {
    signupId: signup.headers.get('x-request-id') as string,
    postId: post.headers.get('x-request-id') as string,
  };
}

describe('traces (cleave start): gateway → replica → call → listener, exported over OTLP', () => {
  let receiver: OtlpReceiver;
  let forum: CleaveProcess;
  let ids: { signupId: string; postId: string };
  before(async () => {
    receiver = await startOtlpReceiver();
    forum = await startCleave(['start', 'examples/forum'], {
      CLEAVE_AUTOSCALE: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    // The client's own traceparent: a client is not a trusted proxy, so it is not believed.
    ids = await signUpAndPost(forum.url, 'tracy', { traceparent: CLIENT_TRACEPARENT });
  });
  after(async () => {
    await forum?.stop();
    await receiver?.close();
  });

  it("starts the trace at the gateway, not at a client's traceparent", async () => {
    const edge = await spanWhere(
      receiver,
      'the gateway span',
      (span) => span.service === 'gateway' && span.attributes['cleave.request_id'] === ids.postId,
    );
    assert.equal(edge.kind, SERVER);
    assert.equal(edge.name, 'POST /api/posts');
    assert.equal(edge.parentSpanId, '');
    assert.notEqual(edge.traceId, CLIENT_TRACE);
    assert.equal(edge.attributes['http.response.status_code'], 201);
    assert.match(String(edge.attributes['cleave.replica']), /^posts#\d$/);
  });

  it("follows the request into its replica, the replica's call and the action it calls", async () => {
    const edge = await spanWhere(
      receiver,
      'the gateway span',
      (span) => span.service === 'gateway' && span.attributes['cleave.request_id'] === ids.postId,
    );
    const replica = await childOf(receiver, edge, 'the replica span', (span) => span.service === 'posts');
    assert.equal(replica.kind, SERVER);
    assert.equal(replica.name, 'POST /api/posts');
    assert.equal(replica.attributes['cleave.request_id'], ids.postId);
    const call = await childOf(receiver, replica, 'the call span', (span) => span.name === 'call auth.profile');
    assert.equal(call.kind, CLIENT);
    assert.equal(call.service, 'posts');
    const action = await childOf(receiver, call, 'the action span', (span) => span.service === 'auth');
    assert.equal(action.kind, SERVER);
    assert.equal(action.name, 'call auth.profile');
  });

  /** The sign-up's server span in the auth replica. */
  const signupSpan = () =>
    spanWhere(
      receiver,
      'the sign-up span in auth',
      (span) =>
        span.service === 'auth' && span.kind === SERVER && span.attributes['cleave.request_id'] === ids.signupId,
    );

  it("runs an event's listener in the emitting request's trace", async () => {
    const signup = await signupSpan();
    const listener = await childOf(receiver, signup, 'the listener span', (span) => span.name === 'event user.created');
    assert.equal(listener.kind, CONSUMER);
    assert.equal(listener.service, 'posts');
  });

  it("runs a task in its worker process in the submitting request's trace", async () => {
    const signup = await signupSpan();
    const task = await childOf(receiver, signup, 'the task span', (span) => span.name === 'task auth.hash');
    assert.equal(task.kind, CONSUMER);
    assert.equal(task.service, 'auth', "the auth service's task worker process");
    assert.equal(task.statusCode, 0);
  });

  it("writes the trace's ids on the request's log lines", async () => {
    const replica = await spanWhere(
      receiver,
      'the replica span',
      (span) => span.service === 'posts' && span.kind === SERVER && span.attributes['cleave.request_id'] === ids.postId,
    );
    const line = forum.logs.find(
      (entry) => entry.msg === 'request' && entry.requestId === ids.postId && entry.role !== 'gateway',
    );
    assert.ok(line, "the replica's access-log line");
    assert.equal(line.trace_id, replica.traceId);
    assert.equal(line.span_id, replica.spanId);
  });
});

describe('traces (cleave dev): a trusted proxy continues its own trace', () => {
  let receiver: OtlpReceiver;
  let forum: CleaveProcess;
  before(async () => {
    receiver = await startOtlpReceiver();
    forum = await startCleave(['dev', 'examples/forum'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      CLEAVE_TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
    });
  });
  after(async () => {
    await forum?.stop();
    await receiver?.close();
  });

  it("takes the proxy's traceparent as the request span's parent", async () => {
    const res = await fetch(`${forum.url}/api/posts`, { headers: { traceparent: CLIENT_TRACEPARENT } });
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    const span = await spanWhere(
      receiver,
      'the request span',
      (each) => each.attributes['cleave.request_id'] === requestId,
    );
    assert.equal(span.traceId, CLIENT_TRACE);
    assert.equal(span.parentSpanId, CLIENT_SPAN);
    assert.equal(span.service, 'forum');
    assert.equal(span.name, 'GET /api/posts');
  });

  it('makes an in-process call a span of the request', async () => {
    const { postId } = await signUpAndPost(forum.url, 'devon');
    const request = await spanWhere(
      receiver,
      'the request span',
      (span) => span.kind === SERVER && span.attributes['cleave.request_id'] === postId,
    );
    const call = await childOf(receiver, request, 'the call span', (span) => span.name === 'call auth.profile');
    assert.equal(call.kind, INTERNAL);
  });

  it("makes a task on a worker thread a span of the request's trace", async () => {
    const res = await fetch(`${forum.url}/api/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'threads', password: 'correct horse' }),
    });
    assert.equal(res.status, 201);
    const requestId = res.headers.get('x-request-id');
    const request = await spanWhere(
      receiver,
      'the request span',
      (span) => span.kind === SERVER && span.attributes['cleave.request_id'] === requestId,
    );
    const task = await childOf(receiver, request, 'the task span', (span) => span.name === 'task auth.hash');
    assert.equal(task.kind, CONSUMER);
  });
});

describe("traces (cleave dev): the app's own spans, and a client's traceparent", () => {
  let receiver: OtlpReceiver;
  let app: CleaveProcess;
  before(async () => {
    receiver = await startOtlpReceiver();
    app = await startCleave(['dev', 'test/fixtures/traced'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  });
  after(async () => {
    await app?.stop();
    await receiver?.close();
  });

  it("joins a span the handler makes with @opentelemetry/api to the request's trace, and its log lines name it", async () => {
    const res = await fetch(`${app.url}/feed`);
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    const request = await spanWhere(
      receiver,
      'the request span',
      (span) => span.attributes['cleave.request_id'] === requestId,
    );
    const own = await childOf(receiver, request, "the app's span", (span) => span.name === 'rank feed');
    const line = app.logs.find((entry) => entry.msg === 'ranking the feed');
    assert.ok(line, "the handler's log line");
    assert.equal(line.trace_id, own.traceId);
    assert.equal(line.span_id, own.spanId);
    assert.equal(line.requestId, requestId);
  });

  it("starts a new trace for a client's traceparent when no trusted proxy sent it", async () => {
    const res = await fetch(`${app.url}/feed`, { headers: { traceparent: CLIENT_TRACEPARENT } });
    const requestId = res.headers.get('x-request-id');
    const request = await spanWhere(
      receiver,
      'the request span',
      (span) => span.attributes['cleave.request_id'] === requestId,
    );
    assert.notEqual(request.traceId, CLIENT_TRACE);
    assert.equal(request.parentSpanId, '');
  });
});

describe('traces: the last spans leave as the process stops, and none without an endpoint', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(() => receiver?.close());

  it('sends the spans still batched when cleave dev is stopped', async () => {
    // A batch delay longer than the test: only the flush at stop can send the span.
    const app = await startCleave(['dev', 'test/fixtures/traced'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    let requestId: string | null = null;
    try {
      const res = await fetch(`${app.url}/feed`);
      requestId = res.headers.get('x-request-id');
      await sleep(300);
      assert.equal(receiver.spans.length, 0, 'nothing sent before the batch delay');
    } finally {
      assert.equal(await app.stop(), 0);
    }
    assert.ok(receiver.spans.some((span) => span.attributes['cleave.request_id'] === requestId));
  });

  it('writes no trace ids and believes no traceparent with tracing off', async () => {
    const app = await startCleave(['dev', 'test/fixtures/traced'], { CLEAVE_TRUSTED_PROXIES: '127.0.0.1/32,::1/128' });
    try {
      const res = await fetch(`${app.url}/feed`, { headers: { traceparent: CLIENT_TRACEPARENT } });
      assert.equal(res.status, 200);
      const requestId = res.headers.get('x-request-id');
      const lines = await until(
        () => {
          const found = app.logs.filter((entry) => entry.requestId === requestId);
          return found.length >= 2 ? found : undefined;
        },
        5000,
        "the request's log lines",
      );
      for (const line of lines) {
        assert.equal(line.trace_id, undefined, JSON.stringify(line));
        assert.equal(line.span_id, undefined);
      }
    } finally {
      await app.stop();
    }
  });
});
