// Issue 13, the store on PostgreSQL: what a user sees when that server is unreachable at start
// or lost while running. (Nodes sharing it: nodes.test.ts.)

import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cutProxyFor } from '../helpers/cut-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { until } from '../helpers/wait.ts';
import { childPids, runToExit, startCleave, stopLeavingNothing, titleOf } from '../helpers/spawn-cleave.ts';

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

describe('the forum when PostgreSQL is unreachable', { timeout: 60_000 }, () => {
  for (const mode of ['dev', 'start'] as const) {
    it(`cleave ${mode} refuses to start in one line, without the password, when it is down`, async () => {
      const { code, stderr } = await runToExit([mode, 'examples/forum'], {
        PORT: '0',
        CLEAVE_STORE: 'postgres://forum:hunter2@127.0.0.1:1/forum',
      });
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^cleave: CLEAVE_STORE_UNAVAILABLE cannot use PostgreSQL at postgres:\/\/forum:\*\*\*@127\.0\.0\.1:1\/forum: .*ECONNREFUSED.*\n$/,
      );
      assert.doesNotMatch(stderr, /hunter2/);
    });
  }

  it('cleave start answers 503 with a code while the server is lost, and serves again once it is back', async () => {
    const { proxy, url } = await cutProxyFor(database.url, 5432);
    const forum = await startCleave(['start', 'examples/forum'], forumEnv(url), 30_000);
    try {
      assert.equal((await send(forum.url, '/api/stats')).status, 200);
      // Each service's processes hold only their own role's URL; the gateway none.
      const storeUrls = Object.fromEntries(
        childPids(forum.child.pid!).map((pid) => [titleOf(pid), environOf(pid).CLEAVE_STORE]),
      );
      const roleOf = (title: string) => decodeURIComponent(new URL(storeUrls[title] ?? 'x:').username);
      assert.equal(roleOf('cleave posts#1'), `${database.name}_posts`);
      assert.equal(roleOf('cleave auth#1'), `${database.name}_auth`);
      assert.equal(roleOf('cleave auth/tasks#1'), `${database.name}_auth`);
      assert.equal(storeUrls['cleave gateway'], 'memory');
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
      // Logged by the posts replica, which connects as the posts service's own role.
      const logged = new URL(String(outage.store));
      assert.equal(logged.host, new URL(url).host);
      assert.equal(logged.pathname, new URL(url).pathname);
      assert.equal(decodeURIComponent(logged.username), `${database.name}_posts`);
      assert.equal(logged.password, '***', 'its password is not in the log');
    } finally {
      await stopLeavingNothing(forum);
      await proxy.close();
    }
  });
});

/** A process's environment, as the kernel holds it. */
function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}
