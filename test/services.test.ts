// Events, tasks and the store as a route sees them.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import app from './fixtures/kitchen/app.ts';
import { type RunningApp, startApp } from './helpers/start-app.ts';

let running: RunningApp;
before(async () => {
  running = await startApp(app, new URL('./fixtures/kitchen/app.ts', import.meta.url));
});
after(() => running.stop());

const json = async (path: string, init?: RequestInit) => (await fetch(`${running.url}${path}`, init)).json();
const send = (path: string, method: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${running.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function eventually(check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('events', () => {
  it('delivers an emitted event to a service listener', async () => {
    assert.equal((await send('/emit', 'POST', { n: 1 })).status, 202);
    await eventually(async () => JSON.stringify(await json('/received')).includes('"n":1'));
  });

  it('adds and removes listeners at run time', async () => {
    await send('/listen', 'POST');
    await send('/emit', 'POST', { n: 2 });
    await eventually(async () => ((await json('/dynamic')) as { dynamic: unknown[] }).dynamic.length === 1);
    await send('/unlisten', 'POST');
    await send('/emit', 'POST', { n: 3 });
    await eventually(async () => JSON.stringify(await json('/received')).includes('"n":3'));
    assert.deepEqual(await json('/dynamic'), { dynamic: [{ n: 2 }] });
  });
});

describe('tasks', () => {
  it('runs a task in the worker pool and returns its output', async () => {
    assert.deepEqual(await json('/square/12'), { result: 144 });
  });

  it('turns a throwing task into a typed error, logged, without its message reaching the client', async () => {
    const res = await fetch(`${running.url}/explode`);
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_TASK_FAILED');
    const logged = running.logs.find(
      (line) => line.msg === 'request failed' && JSON.stringify(line.err).includes('task exploded'),
    );
    assert.ok(logged);
  });
});

describe('store', () => {
  it('versions records and refuses a stale write with 409', async () => {
    const first = (await (await send('/kv/a', 'PUT', { v: 1 })).json()) as { version: number };
    assert.equal(first.version, 1);
    const second = (await (await send('/kv/a', 'PUT', { v: 2 }, { 'if-match': '1' })).json()) as { version: number };
    assert.equal(second.version, 2);
    const stale = await send('/kv/a', 'PUT', { v: 3 }, { 'if-match': '1' });
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, 'CLEAVE_STORE_CONFLICT');
    assert.deepEqual(await json('/kv/a'), { key: 'a', value: { v: 2 }, version: 2 });
  });
});
