// Three real replica processes of one service around one IpcHub (the part of
// the supervisor that keeps one source of truth): events, store writes,
// WebSockets and cron ticks behave as they do in one process.

import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { channelOfChild } from '../../src/ipc/channel.ts';
import { IpcHub } from '../../src/ipc/hub.ts';
import { isIpcMessage } from '../../src/ipc/messages.ts';
import { MemoryLock } from '../../src/lock/memory.ts';
import { serveLock } from '../../src/lock/ipc.ts';
import { serveStore } from '../../src/store/ipc.ts';
import { coalesceReads } from '../../src/store/coalesce.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { ownExecArgv } from '../../src/runtime/typescript.ts';

const REPLICA_MAIN = fileURLToPath(new URL('../../src/runtime/replica-main.ts', import.meta.url));
const APP = fileURLToPath(new URL('../fixtures/replicated/app.ts', import.meta.url));
const REPLICAS = 3;

interface Replica {
  child: ChildProcess;
  socketPath: string;
}

function call(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath, method, path, headers: payload ? { 'content-type': 'application/json' } : {}, timeout: 5000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(payload);
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('replicas of one service around one hub', { timeout: 60_000 }, () => {
  const hub = new IpcHub({ serves: [serveStore(coalesceReads(new MemoryStore())), serveLock(new MemoryLock())] });
  const replicas: Replica[] = [];
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-replicas-'));
    await Promise.all(
      Array.from({ length: REPLICAS }, async (_, index) => {
        const socketPath = join(dir, `notes-${index + 1}.sock`);
        const child = fork(REPLICA_MAIN, [`--cleave-role=notes#${index + 1}`], {
          execArgv: ownExecArgv(),
          env: {
            ...process.env,
            CLEAVE_SERVICE: 'notes',
            CLEAVE_SOCKET_PATH: socketPath,
            CLEAVE_APP_MODULE: APP,
            CLEAVE_TASK_THREADS: '1',
            LOG_LEVEL: 'warn',
          },
          serialization: 'advanced',
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        replicas.push({ child, socketPath });
        hub.attach(`notes#${index + 1}`, channelOfChild(child));
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`replica ${index + 1} not ready in time`)), 20_000);
          child.on('message', (message) => {
            if (isIpcMessage(message) && message.type === 'ready') {
              clearTimeout(timer);
              resolve();
            }
          });
          child.once('exit', (code) => reject(new Error(`replica ${index + 1} exited with ${code}`)));
        });
      }),
    );
    replicas.sort((a, b) => a.socketPath.localeCompare(b.socketPath));
  });

  after(async () => {
    const codes = await Promise.all(
      replicas.map(async ({ child }) => {
        if (child.exitCode !== null) return child.exitCode;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        return code;
      }),
    );
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
    assert.deepEqual(
      codes,
      replicas.map(() => 0),
      'every replica stops cleanly on SIGTERM',
    );
  });

  it('runs each replica as its own process, titled with its role', async () => {
    const pids = await Promise.all(
      replicas.map(async (r) => ((await call(r.socketPath, 'GET', '/pid')).json as { pid: number }).pid),
    );
    assert.equal(new Set(pids).size, REPLICAS);
    const titles = pids.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    assert.deepEqual(titles.sort(), ['cleave notes#1', 'cleave notes#2', 'cleave notes#3']);
  });

  it('reads a write made through one replica through another, at once', async () => {
    const [first, second] = replicas as [Replica, Replica];
    const put = await call(first.socketPath, 'PUT', '/kv/shared', { from: 'first' });
    assert.equal(put.status, 200);
    const got = await call(second.socketPath, 'GET', '/kv/shared');
    assert.deepEqual(got.json, { key: 'shared', value: { from: 'first' }, version: 1 });
  });

  it('delivers each event to one replica of the listening service, once, in turn', async () => {
    const [first] = replicas as [Replica];
    for (const n of [1, 2, 3]) assert.equal((await call(first.socketPath, 'POST', '/emit', { n })).status, 202);
    const seenBy = async () =>
      Promise.all(
        replicas.map(
          async (r) => ((await call(r.socketPath, 'GET', '/seen')).json as { seen: Array<{ n: number }> }).seen,
        ),
      );
    await eventually(async () => (await seenBy()).flat().length >= 3);
    // All three arrived; a duplicate would come as soon, so a short bounded wait for none.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const views = await seenBy();
    assert.deepEqual(
      views
        .flat()
        .map((event) => event.n)
        .sort(),
      [1, 2, 3],
      'each event heard once by the service, not once per replica',
    );
    assert.deepEqual(
      views.map((seen) => seen.length),
      [1, 1, 1],
      'the replicas take turns',
    );
  });

  it('pushes an event emitted in one replica to a WebSocket held by another', async () => {
    const [first, , third] = replicas as [Replica, Replica, Replica];
    const ws = new WebSocket(`ws+unix://${third.socketPath}:/ws`);
    await once(ws, 'open');
    const message = new Promise<unknown>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse((data as Buffer).toString('utf8')))),
    );
    // The socket's subscription takes effect when the hub reads it (bus/ipc.ts), which may be
    // after an event sent at once from another replica: emit until one arrives.
    let n = 0;
    let arrived = false;
    void message.then(() => (arrived = true));
    while (!arrived && n < 50) {
      await call(first.socketPath, 'POST', '/emit', { n: ++n });
      await Promise.race([message, sleep(100)]);
    }
    assert.ok(arrived, `no event reached the socket in ${n} tries`);
    const { type, payload } = (await message) as { type: string; payload: { n: number } };
    assert.equal(type, 'note');
    assert.ok(payload.n >= 1 && payload.n <= n, `the payload of an event sent: ${payload.n}`);
    ws.close();
  });

  it('runs a cron job once per tick although every replica schedules it', async () => {
    const [first] = replicas as [Replica];
    await eventually(async () => ((await call(first.socketPath, 'GET', '/ticks')).json as number[]).length >= 3, 6000);
    const runs = (await call(first.socketPath, 'GET', '/ticks')).json as number[];
    assert.ok(
      runs.every((count) => count === 1),
      `runs per tick: ${JSON.stringify(runs)}`,
    );
  });
});
