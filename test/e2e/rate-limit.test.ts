// The forum's rate limits, in both modes, from several client addresses (127.0.0.x are all
// this machine): every limited answer says where the client stands, past the limit it is 429
// with Retry-After, one address's excess never blocks another, a spoofed X-Forwarded-For
// dodges nothing, and the login's brute-force guard blocks a password-guessing loop while
// the account's owner still logs in from elsewhere.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestFrom as call } from '../helpers/request-from.ts';
import { type CleaveProcess, startCleave, stopLeavingNothing } from '../helpers/spawn-cleave.ts';

for (const mode of ['dev', 'start'] as const) {
  describe(`rate limits (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      // The forum's own limits, with the anonymous tier tightened by the environment.
      app = await startCleave([mode, 'examples/forum'], { CLEAVE_RATE_LIMIT_ANONYMOUS: '20/60' });
    });
    after(() => stopLeavingNothing(app));

    it('counts each address on its own, says where it stands, and answers 429 past the limit', async () => {
      const first = await call(`${app.url}/api/posts`, '127.0.0.3');
      assert.equal(first.status, 200);
      assert.equal(first.header('x-ratelimit-limit'), '20');
      assert.equal(first.header('x-ratelimit-remaining'), '19');
      assert.ok(Number(first.header('x-ratelimit-reset')) <= 60);
      for (let i = 0; i < 19; i++) assert.equal((await call(`${app.url}/api/posts`, '127.0.0.3')).status, 200);
      const over = await call(`${app.url}/api/posts`, '127.0.0.3');
      assert.equal(over.status, 429);
      assert.equal(over.json().error?.code, 'CLEAVE_RATE_LIMITED');
      assert.ok(Number(over.header('retry-after')) >= 1);
      assert.equal(over.header('x-ratelimit-remaining'), '0');
      // A forged X-Forwarded-For from an untrusted peer changes nothing.
      const spoofed = await call(`${app.url}/api/posts`, '127.0.0.3', {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      assert.equal(spoofed.status, 429);
      // Another address is untouched.
      const other = await call(`${app.url}/api/posts`, '127.0.0.4');
      assert.equal(other.status, 200);
      assert.equal(other.header('x-ratelimit-remaining'), '19');
    });

    it('blocks a password-guessing loop from one address; the owner still logs in from another', async () => {
      const account = { username: `victim-${mode}`, password: 'a long enough password' };
      assert.equal((await call(`${app.url}/api/signup`, '127.0.0.5', { method: 'POST', body: account })).status, 201);
      const guess = { username: account.username, password: 'wrong guess!!' };
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await call(`${app.url}/api/login`, '127.0.0.6', { method: 'POST', body: guess });
        statuses.push(res.status);
        if (res.status === 429) {
          assert.ok(Number(res.header('retry-after')) >= 1);
          assert.equal(res.header('x-ratelimit-limit'), '5');
        }
      }
      assert.deepEqual(statuses.slice(0, 6), [401, 401, 401, 401, 401, 401], 'five free retries, then a 1 s block');
      assert.ok(
        statuses.slice(6).every((status) => status === 429),
        `then blocked: ${statuses.join(', ')}`,
      );
      // Even the right password is refused from the guessing address, forged header or not…
      const blocked = await call(`${app.url}/api/login`, '127.0.0.6', {
        method: 'POST',
        body: account,
        headers: { 'x-forwarded-for': '198.51.100.7' },
      });
      assert.equal(blocked.status, 429);
      // …while the owner, elsewhere, logs in.
      const owner = await call(`${app.url}/api/login`, '127.0.0.7', { method: 'POST', body: account });
      assert.equal(owner.status, 200);
      assert.ok(owner.header('x-ratelimit-limit'), 'the login route is limited too');
    });
  });
}

describe('CLEAVE_RATE_LIMIT=off', () => {
  it('switches every limit off', async () => {
    const app = await startCleave(['dev', 'examples/forum'], { CLEAVE_RATE_LIMIT: 'off' });
    try {
      const res = await call(`${app.url}/api/posts`, '127.0.0.8');
      assert.equal(res.status, 200);
      assert.equal(res.header('x-ratelimit-limit'), undefined);
    } finally {
      assert.equal(await app.stop(), 0);
    }
  });
});
