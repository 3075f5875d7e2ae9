// Issue 13, the store on PostgreSQL: the forum, not one line changed, run as two nodes (two
// `cleave start`, as on two machines) that share one real PostgreSQL; and what a user sees
// when that server is unreachable at start or lost while running.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startCutProxy, type CutProxy } from '../helpers/cut-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { until } from '../helpers/wait.ts';
import { type CleaveProcess, runCleave, startCleave, stopLeavingNothing } from '../helpers/spawn-cleave.ts';

const SECRET = 'one secret shared by every node of the forum';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase('forum');
});
after(() => database.drop());

function forumEnv(storeUrl: string): Record<string, string> {
  return { CLEAVE_STORE: storeUrl, CLEAVE_SECRET: SECRET, CLEAVE_AUTOSCALE: 'false' };
}

interface Answer {
  id?: string;
  text?: string;
  error?: { code: string; message: string; requestId: string };
}

async function send(base: string, path: string, init: { method?: string; body?: unknown; cookie?: string } = {}) {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(init.cookie ? { cookie: init.cookie } : {}) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer };
}

describe('the forum as two nodes sharing PostgreSQL', { timeout: 90_000 }, () => {
  let a: CleaveProcess;
  let b: CleaveProcess;
  before(async () => {
    // One after the other: both make the same schemas, which must not race (it may not, either).
    [a, b] = await Promise.all([
      startCleave(['start', 'examples/forum'], forumEnv(database.url), 30_000),
      startCleave(['start', 'examples/forum'], forumEnv(database.url), 30_000),
    ]);
  });
  after(async () => {
    await Promise.all([a && stopLeavingNothing(a), b && stopLeavingNothing(b)]);
  });

  it('signs up on one node and logs in on the other; a post written on either is read on both', async () => {
    const account = { username: 'ada', password: 'correct horse' };
    assert.equal((await send(a.url, '/api/signup', { method: 'POST', body: account })).status, 201);
    assert.equal(
      (await send(b.url, '/api/signup', { method: 'POST', body: account })).status,
      409,
      'one account store',
    );
    const login = await fetch(`${b.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(account),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

    const fromB = await send(b.url, '/api/posts', { method: 'POST', body: { text: 'written on B' }, cookie });
    assert.equal(fromB.status, 201);
    // The session B made is good on A: one secret.
    const fromA = await send(a.url, '/api/posts', { method: 'POST', body: { text: 'written on A' }, cookie });
    assert.equal(fromA.status, 201);
    for (const node of [a, b]) {
      assert.equal((await send(node.url, `/api/posts/${fromB.body.id}`)).body.text, 'written on B');
      assert.equal((await send(node.url, `/api/posts/${fromA.body.id}`)).body.text, 'written on A');
    }
  });
});

describe('the forum when PostgreSQL is unreachable', { timeout: 60_000 }, () => {
  for (const mode of ['dev', 'start'] as const) {
    it(`cleave ${mode} refuses to start in one line, without the password, when it is down`, async () => {
      const child = runCleave([mode, 'examples/forum'], {
        PORT: '0',
        CLEAVE_STORE: 'postgres://forum:hunter2@127.0.0.1:1/forum',
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'close')) as [number];
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^cleave: CLEAVE_STORE_UNAVAILABLE cannot use PostgreSQL at postgres:\/\/forum:\*\*\*@127\.0\.0\.1:1\/forum: .*ECONNREFUSED.*\n$/,
      );
      assert.doesNotMatch(stderr, /hunter2/);
    });
  }

  it('cleave start answers 503 with a code while the server is lost, and serves again once it is back', async () => {
    const target = new URL(database.url);
    const proxy: CutProxy = await startCutProxy({ host: target.hostname, port: Number(target.port) });
    const url = new URL(database.url);
    url.port = String(proxy.port);
    const forum = await startCleave(['start', 'examples/forum'], forumEnv(url.href), 30_000);
    try {
      assert.equal((await send(forum.url, '/api/stats')).status, 200);
      await proxy.cut();
      const started = Date.now();
      const lost = await send(forum.url, '/api/stats');
      assert.equal(lost.status, 503);
      assert.equal(lost.body.error?.code, 'CLEAVE_STORE_UNAVAILABLE');
      assert.match(lost.body.error?.requestId ?? '', /\S/);
      assert.ok(lost.headers.get('retry-after'), 'says when to try again');
      assert.doesNotMatch(JSON.stringify(lost.body), /127\.0\.0\.1|postgres:/, 'no address leaks to the client');
      assert.ok(Date.now() - started < 2000, 'fails fast, nothing hangs');
      await proxy.restore();
      assert.equal((await send(forum.url, '/api/stats')).status, 200);
      // The operator learns where: the address (no password) is in the log, once per process.
      const outage = await until(
        () => forum.logs.find((line) => String(line.msg).startsWith('PostgreSQL unreachable')),
        5000,
        'the outage is logged',
      );
      assert.equal(outage.store, url.href);
    } finally {
      await stopLeavingNothing(forum);
      await proxy.close();
    }
  });
});
