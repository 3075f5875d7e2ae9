// Sessions (signed HttpOnly cookie) and bearer tokens both yield ctx.user.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import app from './fixtures/kitchen/app.ts';
import { type RunningApp, startApp } from './helpers/start-app.ts';

let running: RunningApp;
before(async () => {
  running = await startApp(app, new URL('./fixtures/kitchen/app.ts', import.meta.url), {
    CLEAVE_SECRET: 'a-test-secret-that-is-long-enough-to-sign',
  });
});
after(() => running.stop());

async function login(name: string): Promise<{ token: string; cookie: string; setCookie: string }> {
  const res = await fetch(`${running.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const { token } = (await res.json()) as { token: string };
  return { token, cookie: setCookie.split(';')[0] ?? '', setCookie };
}

describe('auth', () => {
  it('sets an HttpOnly SameSite session cookie on sign-in', async () => {
    const { setCookie } = await login('ada');
    assert.match(setCookie, /^cleave_session=[^;]+;/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    assert.match(setCookie, /Path=\//);
  });

  it('answers 401 JSON to an auth-only route without credentials', async () => {
    const res = await fetch(`${running.url}/whoami`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_UNAUTHORIZED');
  });

  it('knows the user by session cookie', async () => {
    const { cookie } = await login('ada');
    const res = await fetch(`${running.url}/whoami`, { headers: { cookie } });
    assert.deepEqual(await res.json(), { id: 'u-ada', name: 'ada' });
  });

  it('knows the user by bearer token', async () => {
    const { token } = await login('bob');
    const res = await fetch(`${running.url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(await res.json(), { id: 'u-bob', name: 'bob' });
  });

  it('refuses a tampered or foreign token', async () => {
    const { token } = await login('eve');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ sub: 'u-admin', name: 'admin', iss: 'cleave' })).toString(
      'base64url',
    );
    for (const bad of [
      `${header}.${forgedPayload}.${signature}`,
      `${header}.${payload}.${signature.slice(0, -2)}xx`,
      'junk',
    ]) {
      const res = await fetch(`${running.url}/whoami`, { headers: { authorization: `Bearer ${bad}` } });
      assert.equal(res.status, 401, bad);
    }
    const anonymous = await fetch(`${running.url}/maybe`, { headers: { cookie: 'cleave_session=forged' } });
    assert.deepEqual(await anonymous.json(), { user: null });
  });

  it('clears the cookie on sign-out', async () => {
    const res = await fetch(`${running.url}/logout`, { method: 'POST' });
    assert.equal(res.status, 204);
    assert.match(res.headers.get('set-cookie') ?? '', /cleave_session=;.*Max-Age=0/i);
  });
});
