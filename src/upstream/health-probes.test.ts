import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { HEALTH_PATH } from '../http/health-endpoint.ts';
import { Replica } from './replica.ts';
import { HealthProbes } from './health-probes.ts';

type Mode = 'ok' | 'stall' | 'draining';

async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

describe('HealthProbes', () => {
  let dir = '';
  let server: Server;
  let socketPath = '';
  let mode: Mode = 'ok';
  const probed: string[] = [];
  let watched: Replica | undefined;
  /** The watched replica's `healthy` as each good probe reached the server: what it had counted so far. */
  let healthyAtGoodProbes: boolean[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-probes-'));
    socketPath = join(dir, 'replica.sock');
    server = createServer((req, res) => {
      probed.push(req.url ?? '');
      if (mode === 'ok') {
        healthyAtGoodProbes.push(watched?.healthy ?? true);
        res.end('{"status":"ok"}');
      } else if (mode === 'draining') res.writeHead(503).end('{"status":"draining"}');
      // 'stall': never answers, as a replica whose event loop is stuck
    });
    server.listen(socketPath);
    await once(server, 'listening');
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const failure of ['stall', 'draining'] as const) {
    it(`takes a replica out at its first failed probe (${failure}) and brings it back after two good ones`, async () => {
      mode = 'ok';
      const pool = new Pool('http://localhost', { socketPath });
      const probes = new HealthProbes({ intervalMs: 50, timeoutMs: 100 });
      const replica = new Replica('r#1', { socketPath });
      watched = replica;
      const before = probed.length;
      probes.watch(replica, pool);
      try {
        await until(() => probed.length > before + 2, 2000);
        assert.equal(replica.healthy, true);
        assert.ok(probed.every((url) => url === HEALTH_PATH));
        mode = failure;
        const outAfter = await until(() => !replica.healthy, 2000);
        assert.ok(outAfter < 400, `out after ${outAfter} ms: one interval plus one deadline at most`);
        assert.equal(replica.down, false, 'unhealthy, not down: the process may recover');
        healthyAtGoodProbes = [];
        mode = 'ok';
        // A probe's verdict is counted before the next probe is sent, so the server sees
        // what the replica made of the good ones before it: still out after one, back after two.
        await until(() => healthyAtGoodProbes.length >= 3, 2000);
        assert.deepEqual(healthyAtGoodProbes.slice(0, 3), [false, false, true]);
      } finally {
        probes.stop();
        await pool.destroy();
      }
    });
  }

  it('stops probing a replica once unwatched', async () => {
    mode = 'ok';
    const pool = new Pool('http://localhost', { socketPath });
    const probes = new HealthProbes({ intervalMs: 20, timeoutMs: 100 });
    const replica = new Replica('r#2', { socketPath });
    const before = probed.length;
    probes.watch(replica, pool);
    // Probing, every 20 ms: three probes are seen in about 60.
    await until(() => probed.length >= before + 3, 2000);
    probes.unwatch(replica);
    const count = probed.length;
    // Seven intervals of silence: nothing to wait for, so a bounded wait.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(probed.length <= count + 1, 'at most the probe already on the wire');
    await pool.destroy();
  });
});
