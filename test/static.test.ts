// Static files: types, validators and 304, index files, and no way out of
// the folder by any spelling of '..'.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import app from './fixtures/kitchen/app.ts';
import { rawRequest } from './helpers/raw-http.ts';
import { type RunningApp, startApp } from './helpers/start-app.ts';

let running: RunningApp;
before(async () => {
  running = await startApp(app, new URL('./fixtures/kitchen/app.ts', import.meta.url));
});
after(() => running.stop());

describe('static files', () => {
  it('serves index.html at / and in folders, with content types', async () => {
    const home = await fetch(`${running.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await home.text(), /<h1>home<\/h1>/);
    const css = await fetch(`${running.url}/style.css`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    assert.match(await (await fetch(`${running.url}/docs/`)).text(), /docs/);
  });

  it('answers 304 to a matching If-None-Match or If-Modified-Since', async () => {
    const first = await fetch(`${running.url}/style.css`);
    const etag = first.headers.get('etag');
    const lastModified = first.headers.get('last-modified');
    assert.ok(etag && lastModified);
    await first.arrayBuffer();
    // Raw requests: fetch adds Cache-Control: no-cache to conditional requests,
    // which rightly makes a server skip the 304.
    const conditional = (header: string) =>
      rawRequest(running.port, `GET /style.css HTTP/1.1\r\nHost: x\r\n${header}\r\nConnection: close\r\n\r\n`);
    assert.equal((await conditional(`If-None-Match: ${etag}`)).status, 304);
    assert.equal((await conditional(`If-Modified-Since: ${lastModified}`)).status, 304);
    assert.equal((await conditional('If-None-Match: "other"')).status, 200);
  });

  it('answers 404 JSON for a missing file and hides dotfiles', async () => {
    const missing = await fetch(`${running.url}/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'CLEAVE_ROUTE_NOT_FOUND');
    assert.equal((await fetch(`${running.url}/.env`)).status, 404);
  });

  const escapes = [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/docs/../../secret.txt',
    '/docs/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/%252e%252e/secret.txt',
    '//secret.txt',
    '/docs/..%2f..%2fsecret.txt',
  ];
  for (const path of escapes) {
    it(`never serves a file outside the folder: ${path}`, async () => {
      const res = await rawRequest(running.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 404].includes(res.status), `status ${res.status}`);
      assert.doesNotMatch(res.text, /outside the static root/);
    });
  }
});
