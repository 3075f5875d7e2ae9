import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLimit, settlePolicy } from './policy.ts';

const on = {
  CLEAVE_RATE_LIMIT: true,
  CLEAVE_RATE_LIMIT_ANONYMOUS: undefined,
  CLEAVE_RATE_LIMIT_AUTHENTICATED: undefined,
};
const app = { anonymous: { requests: 300, perSeconds: 60 }, authenticated: { requests: 1200, perSeconds: 60 } };

describe('settlePolicy', () => {
  it("uses the route's own tiers, counted for the route, else the app's, counted app-wide", () => {
    const own = settlePolicy('GET /x', { anonymous: { requests: 5, perSeconds: 1 } }, app, on);
    assert.deepEqual(
      [own?.scope, own?.anonymous, own?.authenticated],
      ['GET /x', { requests: 5, perSeconds: 1 }, undefined],
    );
    const inherited = settlePolicy('GET /y', undefined, app, on);
    assert.deepEqual([inherited?.scope, inherited?.anonymous], ['app', app.anonymous]);
    assert.equal(settlePolicy('GET /z', false, app, on), undefined, 'a route may opt out');
    assert.equal(settlePolicy('GET /z', undefined, undefined, on), undefined, 'no policy, no limit');
  });

  it('fills in the brute-force defaults', () => {
    const login = settlePolicy('POST /login', { bruteForce: true }, app, on);
    assert.deepEqual(login?.bruteForce, {
      usernameField: 'username',
      freeRetries: 5,
      blockSeconds: 1,
      maxBlockSeconds: 900,
    });
    assert.equal(login?.route, 'POST /login');
  });

  it('lets the environment override the app default, or switch everything off', () => {
    const env = { ...on, CLEAVE_RATE_LIMIT_ANONYMOUS: '20/10' };
    assert.deepEqual(settlePolicy('GET /y', undefined, app, env)?.anonymous, { requests: 20, perSeconds: 10 });
    assert.equal(
      settlePolicy('POST /login', { bruteForce: true }, app, { ...on, CLEAVE_RATE_LIMIT: false }),
      undefined,
    );
    assert.throws(() => parseLimit('CLEAVE_RATE_LIMIT_ANONYMOUS', '20 per minute'), { code: 'CLEAVE_CONFIG_INVALID' });
  });
});
