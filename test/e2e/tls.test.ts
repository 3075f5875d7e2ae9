// TLS termination as a user turns it on: `--tls` serves HTTPS on PORT with a self-signed
// certificate for localhost (made once, kept, SHA-256 signed; a SHA-1 one kept by an earlier
// version is replaced), split replicas are told X-Forwarded-Proto: https, TLS below 1.2 and
// TLS 1.2 suites without forward secrecy or AEAD are refused, and with the options on, HSTS
// and an HTTP → HTTPS redirect. (Issue 12, items 8 and 9.)

import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect, createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import selfsigned from 'selfsigned';
import { signatureAlgorithmOf } from '../../src/http/tls.ts';
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

type Handshake =
  { connected: true; cipher: string; protocol: string; certificate: Buffer } | { connected: false; error: string };

/** One TLS handshake with `options`; the server's certificate (DER) when it completes. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    // Self-signed on purpose: what is checked is the policy, not the trust chain.
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      const result: Handshake = {
        connected: true,
        cipher: socket.getCipher().standardName,
        protocol: socket.getProtocol() ?? '',
        certificate: socket.getPeerCertificate().raw,
      };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ connected: false, error: error.code ?? 'error' }));
  });
}

/**
 * Clients a sound server refuses, each willing to speak only what it is named for. OpenSSL 3
 * refuses TLS 1.0/1.1 by itself at its default security level, hence SECLEVEL=0: without it
 * the first probe is refused by the client and proves nothing about the server.
 */
const refusedClients: Record<string, ConnectionOptions> = {
  'TLS 1.0/1.1': { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
  'TLS 1.2 without forward secrecy': {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: 'AES128-GCM-SHA256:AES256-SHA',
  },
  'TLS 1.2 ECDHE with CBC and SHA-1': { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
};

async function refusal(port: number, probe: string): Promise<void> {
  const outcome = await handshake(port, refusedClients[probe]);
  if (outcome.connected) assert.fail(`a client offering only ${probe} connected with ${outcome.cipher}`);
}

/** sha256WithRSAEncryption, or ECDSA with SHA-256. */
async function assertSha256Signed(certificate: Buffer | string): Promise<void> {
  const signature = await signatureAlgorithmOf(certificate);
  assert.equal(signature.hash.name, 'SHA-256');
  assert.ok(['RSASSA-PKCS1-v1_5', 'ECDSA'].includes(signature.name), signature.name);
}

/** What an earlier cleave kept in CLEAVE_TLS_DIR: selfsigned's default SHA-1 signature. */
const sha1Certificate = selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
  algorithm: 'sha1',
  keySize: 2048,
});

describe('the refused clients below', () => {
  it('each connect to a server that allows what they offer (so a refusal is the server’s)', async () => {
    const pems = await sha1Certificate;
    const server = createTlsServer({
      cert: pems.cert,
      key: pems.private,
      minVersion: 'TLSv1',
      ciphers: 'ALL@SECLEVEL=0',
    }).listen(0, '127.0.0.1');
    server.on('secureConnection', (socket) => socket.end());
    try {
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      for (const [probe, options] of Object.entries(refusedClients)) {
        const outcome = await handshake(port, options);
        assert.ok(outcome.connected, `a client offering only ${probe} cannot connect even here`);
      }
    } finally {
      server.close();
    }
  });
});

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

    it('signs its certificate with SHA-256', async () => {
      const outcome = await handshake(app.port);
      assert.ok(outcome.connected);
      await assertSha256Signed(outcome.certificate);
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
      await refusal(app.port, 'TLS 1.0/1.1');
    });

    it('refuses TLS 1.2 suites without forward secrecy', async () => {
      await refusal(app.port, 'TLS 1.2 without forward secrecy');
    });

    it('refuses TLS 1.2 suites with CBC and SHA-1, even with ECDHE', async () => {
      await refusal(app.port, 'TLS 1.2 ECDHE with CBC and SHA-1');
    });

    it('accepts a TLS 1.2 client offering ECDHE with AES-GCM', async () => {
      const outcome = await handshake(app.port, {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
      });
      assert.ok(outcome.connected, `refused: ${outcome.connected || outcome.error}`);
      assert.equal(outcome.cipher, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    });

    it('picks the TLS 1.2 suite by its own order, not the client’s', async () => {
      const outcome = await handshake(app.port, {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256',
      });
      assert.ok(outcome.connected, `refused: ${outcome.connected || outcome.error}`);
      assert.equal(outcome.cipher, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    });

    it('redirects plain HTTP to HTTPS, path and query kept', async () => {
      const res = await get(`http://127.0.0.1:${redirectPort}/pid?x=1`);
      assert.equal(res.status, 308);
      assert.equal(res.headers.location, `https://127.0.0.1:${app.port}/pid?x=1`);
    });
  });
}

describe('a SHA-1 certificate found at start', { timeout: 60_000 }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-tls-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts `cleave dev --tls`, hands the served certificate to `check`, and stops it. */
  async function served(env: Record<string, string>, check: (certificate: Buffer) => Promise<void>): Promise<void> {
    const app = await startCleave(['dev', 'test/fixtures/replicated', '--tls'], { CLEAVE_TASK_THREADS: '1', ...env });
    try {
      const outcome = await handshake(app.port);
      assert.ok(outcome.connected, `refused: ${outcome.connected || outcome.error}`);
      await check(outcome.certificate);
    } finally {
      assert.equal(await app.stop(), 0);
    }
  }

  it('is replaced when an earlier version kept it in CLEAVE_TLS_DIR, and the new one is kept', async () => {
    const pems = await sha1Certificate;
    const tlsDir = join(dir, 'kept');
    await mkdir(tlsDir);
    await writeFile(join(tlsDir, 'localhost.crt'), pems.cert);
    await writeFile(join(tlsDir, 'localhost.key'), pems.private);

    await served({ CLEAVE_TLS_DIR: tlsDir }, async (certificate) => {
      await assertSha256Signed(certificate);
      const kept = new NodeX509Certificate(await readFile(join(tlsDir, 'localhost.crt')));
      assert.ok(kept.raw.equals(certificate), 'the new certificate is the one kept for the next start');
      const key = createPrivateKey(await readFile(join(tlsDir, 'localhost.key'), 'utf8'));
      assert.ok(kept.checkPrivateKey(key), 'with its own key');
    });
  });

  it('is served as it is when it is the user’s own CLEAVE_TLS_CERT', async () => {
    const pems = await sha1Certificate;
    const certFile = join(dir, 'mine.crt');
    await writeFile(certFile, pems.cert);
    await writeFile(join(dir, 'mine.key'), pems.private);

    await served(
      { CLEAVE_TLS_CERT: certFile, CLEAVE_TLS_KEY: join(dir, 'mine.key'), CLEAVE_TLS_DIR: join(dir, 'unused') },
      async (certificate) => {
        assert.equal((await signatureAlgorithmOf(certificate)).hash.name, 'SHA-1');
        assert.equal(await readFile(certFile, 'utf8'), pems.cert);
      },
    );
  });
});
