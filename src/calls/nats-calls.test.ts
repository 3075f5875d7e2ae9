// Calls between nodes over the machine's real NATS: the calls fixture's `front` on node A, its
// `users` only on other nodes (each a Runtime of its own on its own port, sharing nothing but
// NATS), so every ctx.call from A crosses NATS. Real HTTP requests to A.

import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { testApp, NATS_URL } from '../../test/helpers/nats.ts';
import { type RunningApp, startApp } from '../../test/helpers/start-app.ts';
import { until } from '../../test/helpers/wait.ts';
import fixture from '../../test/fixtures/calls/app.ts';

const appModule = new URL('../../test/fixtures/calls/app.ts', import.meta.url);

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; requestId?: string; details?: Record<string, unknown> } };
  ms: number;
}

async function send(node: RunningApp, path: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${node.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as Answer['body'], ms: Date.now() - started };
}

describe('calls between nodes over NATS', { timeout: 30_000 }, () => {
  // An app name of this run's own: its subjects are heard by no other test.
  const app = { ...fixture, name: testApp('calls') };
  const nodes: RunningApp[] = [];
  const node = async (services: string[]) => {
    const started = await startApp(app, appModule, { CLEAVE_NATS_URL: NATS_URL }, services);
    nodes.push(started);
    return started;
  };
  const stop = async (stopped: RunningApp) => {
    nodes.splice(nodes.indexOf(stopped), 1);
    await stopped.stop();
  };
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((running) => running.stop()));
  });
  after(async () => {
    await Promise.all(nodes.splice(0).map((running) => running.stop()));
  });

  it('gives the output, the typed error and the request id of an action that runs only on another node', async () => {
    const a = await node(['front']);
    const b = await node(['users']);
    const created = await send(a, '/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'u1', name: 'Ada' }),
    });
    assert.equal(created.status, 201);
    const found = await send(a, '/profile/u1', { headers: { 'x-request-id': 'across-nodes-1' } });
    assert.deepEqual([found.status, found.body], [200, { id: 'u1', name: 'Ada' }]);
    const line = b.logs.find((entry) => entry.msg === 'profile looked up');
    assert.equal(line?.requestId, 'across-nodes-1', "the callee's log line carries the caller's request id");

    const missing = await send(a, '/profile/nobody');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error?.code, 'CLEAVE_HTTP_ERROR');
    assert.equal(missing.body.error?.details?.reason, 'USER_NOT_FOUND');
    const caught = await send(a, '/caught/nobody');
    assert.deepEqual(caught.body, { caught: 'HttpError', instanceOfHttpError: true, reason: 'USER_NOT_FOUND' });
    const invalid = await send(a, '/invalid');
    assert.equal(invalid.body.error?.code, 'CLEAVE_VALIDATION_FAILED');
    assert.ok(!JSON.stringify([missing, caught, invalid]).includes('    at '), 'no stack trace');
  });

  it("keeps the caller's deadline: the callee is aborted at it, the caller answers 504 in time", async () => {
    const a = await node(['front']);
    const b = await node(['users']);
    const answer = await send(a, '/slow-call/3000');
    assert.equal(answer.status, 504);
    assert.equal(answer.body.error?.code, 'CLEAVE_CALL_TIMEOUT');
    assert.ok(answer.ms < 1500, `answered after ${answer.ms} ms, the call's deadline being 200 ms`);
    await until(
      () => (b.logs.some((entry) => entry.msg === 'slow action aborted at its deadline') ? true : undefined),
      3000,
      'the callee aborted the action at the deadline it was sent',
    );
  });

  it('spreads calls over every node that runs the service', async () => {
    const a = await node(['front']);
    const b1 = await node(['users']);
    const b2 = await node(['users']);
    for (let call = 0; call < 40; call++) assert.equal((await send(a, '/profile/nobody')).status, 404);
    const served = [b1, b2].map((b) => b.logs.filter((entry) => entry.msg === 'profile looked up').length);
    assert.equal(served[0]! + served[1]!, 40, 'each call ran once');
    assert.ok(
      served.every((count) => count > 0),
      `calls per node: ${served.join(', ')}`,
    );
  });

  it('waits for a node that is still starting, then answers 502 at once when none runs the service', async () => {
    const a = await node(['front']);
    // No node runs users yet: the call waits (within its deadline) for one to come.
    const early = send(a, '/profile/nobody');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const b = await node(['users']);
    assert.equal((await early).status, 404, 'answered by the node that came');
    await stop(b);
    const gone = await send(a, '/profile/nobody', { headers: { 'x-request-id': 'nobody-left' } });
    assert.equal(gone.status, 502);
    assert.equal(gone.body.error?.code, 'CLEAVE_UPSTREAM_UNAVAILABLE');
    assert.equal(gone.body.error?.requestId, 'nobody-left');
    assert.ok(gone.ms < 1000, `answered after ${gone.ms} ms`);
  });

  it('finishes the calls a stopping node took, and sends new ones to the others', async () => {
    const a = await node(['front']);
    const b1 = await node(['users']);
    const b2 = await node(['users']);
    // Long enough to be running when b1 stops; a deadline far past it (a loaded machine's
    // stop must not turn the test into a race with the clock).
    const slow = Array.from({ length: 6 }, () => send(a, '/slow-patient/300'));
    await until(
      () => (b1.logs.some((entry) => entry.msg === 'slow action started') ? true : undefined),
      3000,
      'a call reached the node about to stop',
    );
    await stop(b1);
    for (const answer of await Promise.all(slow)) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.aborted, false);
    }
    for (let call = 0; call < 5; call++) assert.equal((await send(a, '/profile/nobody')).status, 404);
    assert.ok(
      b2.logs.filter((entry) => entry.msg === 'profile looked up').length === 5,
      'the remaining node took them',
    );
  });
});
