// WebSocket routes: open/message/close handlers, send, bus subscriptions,
// frame limits, auth, and refused upgrades that open no tunnel.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import app from './fixtures/kitchen/app.ts';
import { rawRequest } from './helpers/raw-http.ts';
import { type RunningApp, startApp } from './helpers/start-app.ts';
import { openSocket } from './helpers/ws-client.ts';

let running: RunningApp;
let wsUrl: string;
before(async () => {
  running = await startApp(app, new URL('./fixtures/kitchen/app.ts', import.meta.url));
  wsUrl = running.url.replace('http', 'ws');
});
after(() => running.stop());

describe('websockets', () => {
  it('runs open and message handlers and sends JSON back', async () => {
    const socket = await openSocket(`${wsUrl}/ws/echo`);
    assert.deepEqual(await socket.next(), { type: 'hello' });
    socket.ws.send(JSON.stringify({ n: 1 }));
    assert.deepEqual(await socket.next(), { type: 'echo', message: { n: 1 }, user: null });
    socket.ws.send('plain');
    assert.deepEqual(await socket.next(), { type: 'echo', message: 'plain', user: null });
    socket.close();
  });

  it('delivers bus events declared by the route and subscribed at run time', async () => {
    const socket = await openSocket(`${wsUrl}/ws/echo`);
    await socket.next();
    socket.ws.send(JSON.stringify({ subscribe: 'custom.topic' }));
    assert.deepEqual(await socket.next(), { type: 'subscribed' });
    await fetch(`${running.url}/emit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'http' }),
    });
    assert.deepEqual(await socket.next(), { type: 'event', payload: { from: 'http' } });
    socket.close();
  });

  it('closes with 1009 on a frame over the route limit', async () => {
    const socket = await openSocket(`${wsUrl}/ws/echo`);
    await socket.next();
    socket.ws.send('x'.repeat(2048));
    assert.equal((await socket.closed).code, 1009);
  });

  it('closes with 1011 when a handler throws', async () => {
    const socket = await openSocket(`${wsUrl}/ws/echo`);
    await socket.next();
    socket.ws.send('boom');
    assert.equal((await socket.closed).code, 1011);
  });

  it('refuses an unauthenticated upgrade to an auth-only socket with 401', async () => {
    await assert.rejects(openSocket(`${wsUrl}/ws/private`), { status: 401 });
    const login = await fetch(`${running.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ada' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const socket = await openSocket(`${wsUrl}/ws/private`, { cookie });
    assert.equal(await socket.next(), 'welcome');
    socket.close();
  });

  it('answers an upgrade to an unknown path with 404 and opens no tunnel', async () => {
    const res = await rawRequest(
      running.port,
      'GET /ws/nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    assert.equal(res.status, 404);
    assert.equal(res.closed, true);
  });
});
