// Routes over real HTTP: params, query, bodies and their limits, validation,
// every kind of handler result, and errors that never leak internals.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import app from './fixtures/kitchen/app.ts';
import { LINGER_MS } from '../src/http/early-answer.ts';
import { rawRequest } from './helpers/raw-http.ts';
import { type RunningApp, startApp } from './helpers/start-app.ts';
import { until } from './helpers/wait.ts';

let running: RunningApp;
before(async () => {
  running = await startApp(app, new URL('./fixtures/kitchen/app.ts', import.meta.url));
});
after(() => running.stop());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${running.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('routes', () => {
  it('answers the health path for load balancers, and HEAD with no body', async () => {
    const res = await fetch(`${running.url}/_cleave/health`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { status: 'ok' });
    const head = await fetch(`${running.url}/_cleave/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('passes path params and the query to the handler', async () => {
    const res = await fetch(`${running.url}/hello/ada?x=1&y=two`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { hello: 'ada', query: { x: '1', y: 'two' } });
  });

  it('decodes params and normalises the path the same way for every request', async () => {
    const res = await fetch(`${running.url}/x/..//hello/%61da%20l`);
    assert.deepEqual(await res.json(), { hello: 'ada l', query: {} });
  });

  it('answers text, node streams, web streams, bare statuses and 204', async () => {
    const text = await fetch(`${running.url}/text`);
    assert.equal(await text.text(), 'plain text');
    assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await (await fetch(`${running.url}/stream`)).text(), 'abc');
    const web = await fetch(`${running.url}/web-stream`);
    assert.equal(await web.text(), 'web');
    assert.equal(web.headers.get('content-type'), 'text/plain');
    const status = await fetch(`${running.url}/status`);
    assert.equal(status.status, 202);
    assert.equal(await status.text(), '');
    assert.equal((await fetch(`${running.url}/nothing`)).status, 204);
  });

  it('parses JSON bodies', async () => {
    const res = await post('/echo', { a: [1, 2], b: { c: true } });
    assert.deepEqual(await res.json(), { body: { a: [1, 2], b: { c: true } } });
  });

  it('answers 400 for malformed JSON and for __proto__ keys', async () => {
    const bad = await post('/echo', '{"a":');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'CLEAVE_INVALID_JSON');
    const poisoned = await post('/echo', '{"__proto__":{"admin":true}}');
    assert.equal(poisoned.status, 400);
  });

  it('answers 415 for a body type it cannot parse', async () => {
    const res = await post('/echo', 'x', { 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 415);
  });

  it('answers 413 over the 1 MiB default limit, declared or streamed', async () => {
    const declared = await post('/echo', JSON.stringify({ s: 'x'.repeat(1024 * 1024) }));
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as { error: { code: string } }).error.code, 'CLEAVE_BODY_TOO_LARGE');
    // Chunked: no Content-Length to check up front, the limit holds while streaming.
    const chunked = await fetch(`${running.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`"${'y'.repeat(1024 * 1024 + 10)}"`));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
  });

  it('answers 413 to a chunked upload still streaming past the limit, says close, and closes within the linger bound', async () => {
    const { connect } = await import('node:net');
    const socket = connect(running.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => {});
    const started = Date.now();
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const piece = 'x'.repeat(64 * 1024);
    // 1.5 MiB in chunks, and never the terminating chunk: the body never ends on its own, so
    // the server reads it off for LINGER_MS at most, then closes.
    for (let i = 0; i < 24 && !socket.destroyed; i++) {
      socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, LINGER_MS + 3000))]);
    const text = Buffer.concat(received).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /connection: close/i);
    assert.match(text, /CLEAVE_BODY_TOO_LARGE/);
    assert.equal(socket.destroyed || socket.readableEnded, true, 'the connection is closed');
    assert.ok(Date.now() - started < LINGER_MS + 3000, 'closed within the linger bound');
    socket.destroy();
  });

  it('honours a per-route body limit, and the connection serves the next request after the 413', async () => {
    const body = JSON.stringify({ far: 'too long for sixteen bytes' });
    const res = await rawRequest(
      running.port,
      `POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        'GET /text HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(res.status, 413);
    assert.match(res.text, /CLEAVE_BODY_TOO_LARGE/);
    assert.deepEqual(
      res.text.match(/HTTP\/1\.1 \d{3}/g),
      ['HTTP/1.1 413', 'HTTP/1.1 200'],
      'the body was read off, not parsed as a request',
    );
    assert.match(res.text, /plain text$/);
    assert.equal(res.closed, true);
  });

  it('answers 400 with field errors when the body fails its schema', async () => {
    const res = await post('/users', { name: 'x', age: -1 });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { code: string; details: { fields: Array<{ path: string }> } } };
    assert.equal(error.code, 'CLEAVE_VALIDATION_FAILED');
    assert.deepEqual(error.details.fields.map((field) => field.path).sort(), ['age', 'name']);
    const ok = await post('/users', { name: 'ada', age: 36 });
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { created: 'ada', age: 36 });
  });

  it('validates and coerces the query', async () => {
    assert.equal((await fetch(`${running.url}/search?page=0`)).status, 400);
    assert.deepEqual(await (await fetch(`${running.url}/search?page=3`)).json(), { page: 3 });
  });

  it('answers 404 JSON for an unknown route and 405 with Allow for a known path', async () => {
    const missing = await fetch(`${running.url}/api/nope`, { headers: { accept: 'application/json' } });
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as { error: { code: string; requestId: string } };
    assert.equal(body.error.code, 'CLEAVE_ROUTE_NOT_FOUND');
    assert.equal(body.error.requestId, missing.headers.get('x-request-id'));
    const wrongMethod = await fetch(`${running.url}/hello/x`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
  });

  it('answers HEAD from the GET route without a body', async () => {
    const res = await fetch(`${running.url}/hello/ada`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('turns a thrown error into 500 JSON with the request id and logs it, never a stack', async () => {
    const res = await fetch(`${running.url}/boom`, { headers: { 'x-request-id': 'trace-me-1' } });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /secret internal detail|at .*\.ts/);
    assert.deepEqual(JSON.parse(text), {
      error: { code: 'CLEAVE_INTERNAL', message: 'internal server error', requestId: 'trace-me-1' },
    });
    const logged = running.logs.find((line) => line.requestId === 'trace-me-1' && line.msg === 'request failed');
    assert.match(JSON.stringify(logged?.err), /secret internal detail/);
  });

  it('answers 503 when a handler passes its deadline, and aborts its signal', async () => {
    const started = Date.now();
    const res = await fetch(`${running.url}/stuck`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_HANDLER_TIMEOUT');
    assert.ok(Date.now() - started < 2000, 'answered at the deadline, not later');
    assert.deepEqual(await (await fetch(`${running.url}/stuck/signal`)).json(), { aborted: true });
  });

  it('answers an HttpError with its status and reason', async () => {
    const res = await fetch(`${running.url}/teapot`);
    assert.equal(res.status, 418);
    const { error } = (await res.json()) as { error: { code: string; details: { reason: string } } };
    assert.equal(error.code, 'CLEAVE_HTTP_ERROR');
    assert.equal(error.details.reason, 'TEAPOT');
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const kept = await fetch(`${running.url}/text`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(kept.headers.get('x-request-id'), 'abc-123');
    const made = await fetch(`${running.url}/text`, { headers: { 'x-request-id': 'bad id\twith junk' } });
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with method, path, status, duration, service and id', async () => {
    await fetch(`${running.url}/hello/log?token=hush`, { headers: { 'x-request-id': 'log-line-1' } });
    const line = await until(
      () => running.logs.find((entry) => entry.requestId === 'log-line-1' && entry.msg === 'request'),
      2000,
      'an access log line',
      5,
    );
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/hello/log');
    assert.equal(line.status, 200);
    assert.equal(line.service, 'api');
    assert.equal(typeof line.durationMs, 'number');
    assert.doesNotMatch(JSON.stringify(line), /hush/, 'the query string stays out of the log');
  });

  it('answers malformed HTTP with 400 and closes the connection', async () => {
    const res = await rawRequest(running.port, 'GET /text HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.equal(res.status, 400);
    assert.equal(res.closed, true);
  });

  it('answers 431 to an oversized header section', async () => {
    const res = await rawRequest(running.port, `GET /text HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(res.status, 431);
    assert.equal(res.closed, true);
  });

  it('refuses absolute-form targets: no open proxy', async () => {
    const res = await rawRequest(running.port, 'GET http://127.0.0.1:1/text HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(res.status, 400);
  });
});
