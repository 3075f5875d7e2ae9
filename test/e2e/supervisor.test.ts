// The supervisor runs each service as its policy's number of replica
// processes, tells the registry where they listen, brings a killed one back,
// and on stop leaves no process behind.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadRuntimeConfig } from '../../src/config/runtime-config.ts';
import type { ReplicaRegistry } from '../../src/supervisor/service-pool.ts';
import { Supervisor } from '../../src/supervisor/supervisor.ts';
import app from '../fixtures/replicated/app.ts';

const APP = fileURLToPath(new URL('../fixtures/replicated/app.ts', import.meta.url));

function pidAt(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/pid', timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve((JSON.parse(text) as { pid: number }).pid));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Alive and not a zombie (nothing reaps orphans in some containers). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\) Z /.test(stat);
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Supervisor', { timeout: 60_000 }, () => {
  const ready = new Map<string, string>();
  const events: string[] = [];
  const registry: ReplicaRegistry = {
    ready(service, replica) {
      ready.set(replica.id, replica.socketPath);
      events.push(`ready ${replica.id}`);
    },
    gone(service, id) {
      ready.delete(id);
      events.push(`gone ${id}`);
    },
  };
  const logs = new PassThrough();
  const lines: string[] = [];
  logs.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const supervisor = new Supervisor({
    app,
    appModule: APP,
    config: loadRuntimeConfig({ CLEAVE_TASK_THREADS: '1', LOG_LEVEL: 'info' }),
    log: pino({ level: 'silent' }),
    registry,
    out: logs,
  });

  before(() => supervisor.start());
  after(() => supervisor.stop(2000));

  it("starts the policy's minimum of replicas, each its own process", async () => {
    assert.deepEqual([...ready.keys()].sort(), ['notes#1', 'notes#2']);
    const pids = await Promise.all([...ready.values()].map(pidAt));
    assert.equal(new Set(pids).size, 2);
  });

  it('relays replica logs tagged with service and replica', async () => {
    await until(() => lines.some((line) => line.includes('replica ready')), 3000, 'a relayed line');
    const line = JSON.parse(lines.find((candidate) => candidate.includes('replica ready')) ?? '{}') as Record<
      string,
      unknown
    >;
    assert.equal(line.service, 'notes');
    assert.ok(line.replica === 1 || line.replica === 2);
  });

  it('takes a killed replica out of the registry and brings it back', async () => {
    const socketPath = ready.get('notes#1');
    assert.ok(socketPath);
    const pid = await pidAt(socketPath);
    process.kill(pid, 'SIGKILL');
    await until(() => events.includes('gone notes#1'), 3000, 'gone');
    await until(() => ready.has('notes#1'), 10_000, 'ready again');
    const newPid = await pidAt(ready.get('notes#1') as string);
    assert.notEqual(newPid, pid);
  });

  it('leaves no process behind when stopped', async () => {
    const pids = supervisor.pools.flatMap((pool) => pool.pids).filter((pid): pid is number => pid !== undefined);
    assert.equal(pids.length, 2);
    await supervisor.stop(2000);
    await until(() => pids.every((pid) => !alive(pid)), 5000, 'every replica gone');
  });
});
