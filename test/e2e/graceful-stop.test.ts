// SIGTERM under POST load (issue 12, item 3): every request a client sent is answered, or
// its connection was refused outright (nothing reached the app, so the client may retry it);
// never a reset mid-request. Keep-alive clients are the hard case: a connection that looks
// idle to the server may be carrying the client's next request.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

const CLIENTS = 16;

async function stopUnderLoad(
  mode: 'start' | 'dev',
): Promise<{ exitCode: number | null; outcomes: Map<string, number> }> {
  const app = await startCleave([mode, 'test/fixtures/replicated'], { CLEAVE_RATE_LIMIT: 'off' });
  const agent = new Agent({ connections: CLIENTS });
  const outcomes = new Map<string, number>();
  const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  // Each client writes until its connection is refused, which is how a stopped server says so.
  const client = async (id: number): Promise<void> => {
    for (let sequence = 0; sequence < 100_000; sequence++) {
      try {
        const res = await request(`${app.url}/kv/client-${id}`, {
          method: 'PUT',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sequence }),
        });
        await res.body.text();
        count(String(res.statusCode));
      } catch (error) {
        const { code, cause } = error as { code?: string; cause?: { code?: string } };
        const outcome = code ?? cause?.code ?? String(error);
        count(outcome);
        if (outcome === 'ECONNREFUSED') return;
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, id) => client(id));
  await until(() => ((outcomes.get('200') ?? 0) >= 200 ? true : undefined), 10_000, 'the load under way');
  const exitCode = await app.stop('SIGTERM');
  await Promise.all(clients);
  await agent.close();
  return { exitCode, outcomes };
}

for (const mode of ['start', 'dev'] as const) {
  describe(`graceful stop under POST load (cleave ${mode})`, { timeout: 90_000 }, () => {
    it('answers every request it read, refuses the rest, and resets none', async () => {
      for (let round = 0; round < 3; round++) {
        const { exitCode, outcomes } = await stopUnderLoad(mode);
        assert.equal(exitCode, 0);
        const unexpected = [...outcomes].filter(([outcome]) => outcome !== '200' && outcome !== 'ECONNREFUSED');
        assert.deepEqual(unexpected, [], `round ${round}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
        assert.equal(outcomes.get('ECONNREFUSED'), CLIENTS, 'every client ends refused');
      }
    });
  });
}

/** Exit code and how long the stop took. */
async function timedStop(app: CleaveProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await app.stop('SIGTERM');
  return { code, ms: Date.now() - started };
}

describe('graceful stop with connections that send nothing (cleave dev)', { timeout: 60_000 }, () => {
  it('closes an idle keep-alive connection once quiet, without waiting out the grace', async () => {
    const app = await startCleave(['dev', 'test/fixtures/replicated'], { CLEAVE_STOP_GRACE_MS: '10000' });
    const socket = connect(app.port, '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write('GET /pid HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => (/"pid":\d+/.test(text) ? true : undefined), 5000, 'the answer');
    const ended = once(socket, 'end');
    const { code, ms } = await timedStop(app);
    assert.equal(code, 0);
    assert.ok(ms < 3000, `stopped after ${ms} ms, not at the 10 s grace`);
    await ended;
    socket.destroy();
  });

  it('is not held by a TLS connection that never says hello', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cleave-stop-tls-'));
    try {
      const app = await startCleave(['dev', 'test/fixtures/replicated', '--tls'], {
        CLEAVE_TLS_DIR: dir,
        CLEAVE_STOP_GRACE_MS: '1000',
      });
      const socket = connect(app.port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      const { code, ms } = await timedStop(app);
      assert.equal(code, 0, 'stopped by itself, not by the hard stop');
      assert.ok(ms < 4000, `stopped after ${ms} ms`);
      socket.destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not held by a client that never closes its side after a refused upgrade', async () => {
    const app = await startCleave(['dev', 'test/fixtures/replicated'], { CLEAVE_STOP_GRACE_MS: '1000' });
    const socket = connect({ port: app.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: [::1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await until(() => (/^HTTP\/1\.1 400 /.test(text) ? true : undefined), 5000, 'the 400');
    const { code, ms } = await timedStop(app);
    assert.equal(code, 0, 'stopped by itself, not by the hard stop');
    assert.ok(ms < 4000, `stopped after ${ms} ms`);
    socket.destroy();
  });
});
