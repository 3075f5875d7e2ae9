// `cleave dev` as a user runs it: a real child process, its port, its logs,
// its config errors and its graceful stop.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCleave, startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';
import { openSocket } from '../helpers/ws-client.ts';

async function exitOf(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = runCleave(args, env);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe('cleave dev', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('stops a start with one line naming a bad cleave variable', async () => {
    const { code, stderr } = await exitOf(['dev', 'test/fixtures/kitchen'], { PORT: 'abc' });
    assert.equal(code, 1);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /^cleave: CLEAVE_CONFIG_INVALID PORT: must be an integer, got "abc"/);
  });

  it('stops a start with one line naming a bad app variable', async () => {
    const { code, stderr } = await exitOf(['dev', 'examples/forum'], { PORT: '0', FORUM_PAGE_SIZE: '0' });
    assert.equal(code, 1);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /^cleave: CLEAVE_CONFIG_INVALID FORUM_PAGE_SIZE: must be >= 1, got 0/);
  });

  for (const mode of ['dev', 'start'] as const) {
    it(`cleave ${mode} refuses a CLEAVE_SECRET under 32 characters in one line, without echoing it`, async () => {
      const { code, stderr } = await exitOf([mode, 'examples/forum'], { PORT: '0', CLEAVE_SECRET: 'short-secret-42' });
      assert.equal(code, 1);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, /^cleave: CLEAVE_CONFIG_INVALID CLEAVE_SECRET: must be at least 32 characters/);
      assert.ok(!stderr.includes('short-secret-42'));
    });
  }

  it('says in one line when the folder holds no app', async () => {
    const { code, stderr } = await exitOf(['dev', 'test/helpers'], {});
    assert.equal(code, 1);
    assert.match(stderr, /^cleave: CLEAVE_APP_INVALID no app in test\/helpers/);
  });

  it('listens on --port over PORT and logs JSON lines to stdout', async () => {
    const cleave = await startCleave(['dev', 'test/fixtures/kitchen', '--port', '0'], { PORT: '1' });
    try {
      const res = await fetch(`${cleave.url}/hello/cli`);
      assert.equal(res.status, 200);
      const listening = cleave.logs.find((line) => String(line.msg).startsWith('listening'));
      assert.equal(listening?.mode, 'monolith');
    } finally {
      assert.equal(await cleave.stop(), 0);
    }
  });

  it('on SIGTERM finishes in-flight requests, closes sockets with 1001, flushes the store and exits 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cleave-dev-'));
    dirs.push(dataDir);
    const env = { CLEAVE_STORE: 'file', CLEAVE_DATA_DIR: dataDir };
    const first = await startCleave(['dev', 'test/fixtures/kitchen'], env);
    const put = await fetch(`${first.url}/kv/kept`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ survives: true }),
    });
    assert.equal(put.status, 200);
    const socket = await openSocket(`${first.url.replace('http', 'ws')}/ws/echo`);
    await socket.next();
    const slow = fetch(`${first.url}/slow`);
    await until(
      () => (first.logs.some((line) => line.msg === 'slow request started') ? true : undefined),
      5000,
      'the slow request is in flight',
      10,
    );
    const started = Date.now();
    const exitCode = first.stop('SIGTERM');
    const slowResponse = await slow;
    assert.equal(slowResponse.status, 200);
    assert.deepEqual(await slowResponse.json(), { slow: true });
    assert.equal((await socket.closed).code, 1001);
    assert.equal(await exitCode, 0);
    assert.ok(Date.now() - started < 5000, 'stopped within a bounded time');
    assert.ok(first.logs.some((line) => line.msg === 'stopped'));

    const second = await startCleave(['dev', 'test/fixtures/kitchen'], env);
    try {
      const res = await fetch(`${second.url}/kv/kept`);
      assert.deepEqual(await res.json(), { key: 'kept', value: { survives: true }, version: 1 });
    } finally {
      assert.equal(await second.stop('SIGINT'), 0);
    }
  });
});
