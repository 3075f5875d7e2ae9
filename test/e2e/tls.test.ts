// TLS termination as a user turns it on: `--tls` serves HTTPS on PORT with a self-signed
// certificate for localhost (made once, kept), split replicas are told X-Forwarded-Proto:
// https, TLS below 1.2 is refused, and with the options on, HSTS and an HTTP → HTTPS redirect.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';

function get(
  url: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; subject?: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // A self-signed certificate: trusted here on purpose, and its subject checked below.
    const req = send(url, { rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const peer = (
          res.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }
        ).getPeerCertificate?.();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          ...(peer?.subject?.CN ? { subject: peer.subject.CN } : {}),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const mode of ['start', 'dev'] as const) {
  describe(`--tls (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    let dir = '';
    let redirectPort = 0;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cleave-tls-'));
      redirectPort = await freePort();
      app = await startCleave([mode, 'test/fixtures/replicated', '--tls'], {
        CLEAVE_TASK_THREADS: '1',
        CLEAVE_TLS_DIR: dir,
        CLEAVE_HSTS: 'on',
        CLEAVE_HTTP_REDIRECT_PORT: String(redirectPort),
      });
    });
    after(async () => {
      assert.equal(await app.stop(), 0);
      await rm(dir, { recursive: true, force: true });
    });

    it('serves HTTPS with a certificate for localhost, kept for the next start, and says so', async () => {
      const res = await get(`https://127.0.0.1:${app.port}/pid`);
      assert.equal(res.status, 200);
      assert.equal(res.subject, 'localhost');
      assert.ok(existsSync(join(dir, 'localhost.crt')) && existsSync(join(dir, 'localhost.key')));
      assert.ok(app.logs.some((line) => String(line.msg).startsWith('listening on https://')));
    });

    it('sends HSTS, also on errors', async () => {
      assert.match(
        String((await get(`https://127.0.0.1:${app.port}/pid`)).headers['strict-transport-security']),
        /max-age=31536000/,
      );
      const missing = await get(`https://127.0.0.1:${app.port}/nope`);
      assert.equal(missing.status, 404);
      assert.ok(missing.headers['strict-transport-security']);
    });

    if (mode === 'start') {
      it('tells the replicas the client came over https', async () => {
        const res = await get(`https://127.0.0.1:${app.port}/proto`);
        assert.deepEqual(JSON.parse(res.body), { proto: 'https' });
      });
    }

    it('refuses TLS older than 1.2', async () => {
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({
          host: '127.0.0.1',
          port: app.port,
          rejectUnauthorized: false,
          maxVersion: 'TLSv1.1',
          minVersion: 'TLSv1',
        });
        socket.once('secureConnect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      assert.notEqual(outcome, 'connected');
    });

    it('redirects plain HTTP to HTTPS, path and query kept', async () => {
      const res = await get(`http://127.0.0.1:${redirectPort}/pid?x=1`);
      assert.equal(res.status, 308);
      assert.equal(res.headers.location, `https://127.0.0.1:${app.port}/pid?x=1`);
    });
  });
}
