// Calls between services, both modes (test/fixtures/calls): typed success and failure across
// the boundary, deadline propagation, the request id in the callee's log lines, and the
// per-service data rule; split only: retries where safe, and a killed callee replica under
// call load costing an idempotent caller nothing.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { childPids, type CleaveProcess, startCleave, stopLeavingNothing, titleOf } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; details?: Record<string, unknown> } };
  ms: number;
}

for (const mode of ['dev', 'start'] as const) {
  describe(`calls between services (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    const send = async (path: string, init: RequestInit = {}): Promise<Answer> => {
      const started = performance.now();
      const response = await fetch(`${app.url}${path}`, init);
      const body = (await response.json()) as Answer['body'];
      return { status: response.status, body, ms: performance.now() - started };
    };

    before(async () => {
      app = await startCleave([mode, 'test/fixtures/calls']);
      const created = await send('/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'u1', name: 'Ada' }),
      });
      assert.equal(created.status, 201);
    });
    after(() => stopLeavingNothing(app));

    it('returns the callee’s output, validated by its schema', async () => {
      const answer = await send('/profile/u1');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { id: 'u1', name: 'Ada' });
    });

    it('fails with the callee’s own error class and code, never a stack', async () => {
      const caught = await send('/caught/nobody');
      assert.deepEqual(caught.body, { caught: 'HttpError', instanceOfHttpError: true, reason: 'USER_NOT_FOUND' });
      const escaped = await send('/profile/nobody');
      assert.equal(escaped.status, 404);
      assert.equal(escaped.body.error?.code, 'CLEAVE_HTTP_ERROR');
      assert.equal(escaped.body.error?.details?.reason, 'USER_NOT_FOUND');
      const invalid = await send('/invalid');
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error?.code, 'CLEAVE_VALIDATION_FAILED');
      assert.equal(invalid.body.error?.details?.part, 'input');
      const unknown = await send('/unknown');
      assert.equal(unknown.body.error?.code, 'CLEAVE_ACTION_NOT_FOUND');
      assert.ok(!JSON.stringify([caught, escaped, invalid, unknown]).includes('    at '), 'no stack trace');
    });

    it('fails a call at its deadline, not later, and aborts the callee’s signal', async () => {
      // `ms` runs from before the request is sent to the end of its answer, so it holds the
      // whole deadline; past it, 500 ms is room for a loaded 2-core machine, not for a call
      // that waits for the callee's 3 s.
      const onTime = (answer: Answer, deadlineMs: number) =>
        assert.ok(
          answer.ms >= deadlineMs && answer.ms < deadlineMs + 500,
          `answered after ${Math.round(answer.ms)} ms (deadline ${deadlineMs} ms)`,
        );
      const call = await send('/slow-call/3000');
      assert.equal(call.status, 504);
      assert.equal(call.body.error?.code, 'CLEAVE_CALL_TIMEOUT');
      onTime(call, 200);
      // The request's own deadline (300 ms) bounds the call it makes.
      const request = await send('/slow/3000');
      assert.ok([503, 504].includes(request.status), `status ${request.status}`);
      onTime(request, 300);
      const aborted = await until(
        () => {
          const lines = app.logs.filter((line) => line.msg === 'slow action aborted at its deadline');
          return lines.length >= 2 ? lines : undefined;
        },
        3000,
        'both slow actions were aborted',
      );
      // The callee hears of it at the deadline too, not when its 3 s are up.
      for (const line of aborted)
        assert.ok((line.after as number) < 800, `callee aborted after ${String(line.after)} ms`);
    });

    it('carries the request id into every log line of the chain', async () => {
      const requestId = `chain-${mode}-${Date.now()}`;
      const response = await fetch(`${app.url}/profile/u1`, { headers: { 'x-request-id': requestId } });
      assert.equal(response.status, 200);
      const lines = await until(
        () => {
          const found = app.logs.filter((line) => line.requestId === requestId);
          return found.some((line) => line.msg === 'profile looked up') ? found : undefined;
        },
        3000,
        'the callee logged with the caller’s request id',
      );
      const callee = lines.find((line) => line.msg === 'profile looked up');
      assert.equal(callee?.service, 'users');
    });

    it("never lets a client reach cleave's own paths, even through a catch-all route", async () => {
      assert.deepEqual((await send('/anything', { method: 'POST' })).body, { caughtAll: true });
      const outside = await send('/_cleave/actions/users.profile', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { id: 'u1' } }),
      });
      assert.equal(outside.status, 404);
      assert.equal(outside.body.error?.code, 'CLEAVE_ROUTE_NOT_FOUND');
    });

    it('refuses to let one service reach another’s collection', async () => {
      const leak = await send('/leak');
      assert.equal(leak.status, 500);
      assert.equal(leak.body.error?.code, 'CLEAVE_COLLECTION_FORBIDDEN');
      if (mode === 'start') {
        // Even an IPC message written by hand, past ServiceContext, is refused at the supervisor.
        assert.deepEqual((await send('/forge')).body, { ok: false, code: 'CLEAVE_COLLECTION_FORBIDDEN' });
      }
    });
  });
}

describe('calls between services, split: retries and a killed replica', { timeout: 90_000 }, () => {
  let app: CleaveProcess;
  const usersReplicas = () => childPids(app.child.pid ?? 0).filter((pid) => /^cleave users#\d+$/.test(titleOf(pid)));
  /** Both users replicas running is not enough: one restarted may not be ready yet. */
  const bothReplicasAnswer = () =>
    until(
      async () => {
        const pids = new Set<number>();
        for (let i = 0; i < 6; i++)
          pids.add(((await (await fetch(`${app.url}/whoami`)).json()) as { pid: number }).pid);
        return pids.size === 2 ? true : undefined;
      },
      15_000,
      'calls reach both replicas',
    );

  before(async () => {
    app = await startCleave(['start', 'test/fixtures/calls']);
  });
  after(() => stopLeavingNothing(app));

  it('retries an idempotent call whose replica died mid-way; never a call that is not', async () => {
    const idempotent = await fetch(`${app.url}/crash-idempotent/first`, { method: 'POST' });
    assert.equal(idempotent.status, 200);
    assert.ok(((await idempotent.json()) as { survivedBy?: number }).survivedBy);
    // Both replicas again before the next one.
    await until(() => (usersReplicas().length === 2 ? true : undefined), 15_000, 'the crashed replica is back');
    await bothReplicasAnswer();
    const once = await fetch(`${app.url}/crash/second`, { method: 'POST' });
    assert.equal(once.status, 502, 'not idempotent: the caller is told, the call is not run twice');
    assert.equal(((await once.json()) as { error: { code: string } }).error.code, 'CLEAVE_UPSTREAM_UNAVAILABLE');
  });

  it('loses no idempotent call when a callee replica is killed under call load', async () => {
    // The last test crashed a replica: both must answer again before one is killed.
    await bothReplicasAnswer();
    const victim = usersReplicas()[0] as number;
    const statuses: number[] = [];
    let killed = false;
    const worker = async () => {
      for (let i = 0; i < 150; i++) {
        if (!killed && statuses.length >= 200) {
          killed = true;
          process.kill(victim, 'SIGKILL');
        }
        const response = await fetch(`${app.url}/whoami`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.ok(killed, 'the replica was killed mid-load');
    assert.equal(statuses.length, 1200);
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'every call answered',
    );
  });
});
