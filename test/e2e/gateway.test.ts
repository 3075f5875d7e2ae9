// The gateway in front of real replica processes (three of `api`, one of `admin`): routing to
// the owning service, both bodies streamed with bounded memory, hop-by-hop and forwarded
// headers, request ids, and WebSockets through the upgrade proxy.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { call, pidOf } from '../fixtures/gateway-app/client.ts';
import { ReplicaCluster, startGateway, type RunningGateway } from '../fixtures/gateway-app/harness.ts';
import { until } from '../helpers/wait.ts';

const MiB = 1024 * 1024;

// A forced full GC before each sample, so garbage awaiting collection (every chunk that went
// through is garbage soon after) doesn't read as memory held. --expose-gc can't be passed
// through the test runner, so it is switched on here.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Peak growth of live Buffer memory in this process (the gateway runs here) while `run` goes:
 * a proxy holding a body whole shows it here, one that streams shows a few socket buffers.
 */
async function peakBufferGrowth(run: () => Promise<void>): Promise<number> {
  gc();
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sample = () => {
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  };
  const sampler = setInterval(sample, 20);
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return peak - baseline;
}

/** `size` bytes of ASCII made as read, hashed on the way out. */
function generatedUpload(size: number): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n');
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
      sent += piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

describe('gateway in front of replica processes', { timeout: 90_000 }, () => {
  const cluster = new ReplicaCluster();
  let gateway: RunningGateway;
  let client: Pool;

  before(async () => {
    await cluster.start({ api: 3, admin: 1 });
    gateway = await startGateway(cluster.replicas);
    client = new Pool(gateway.url, { connections: 16 });
  });

  after(async () => {
    await client?.close();
    await gateway?.stop();
    await cluster.stop();
  });

  it('spreads requests over the replicas of the owning service', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => call(gateway.port, '/pid')));
    const apiPids = new Set(answers.map(pidOf));
    assert.equal(apiPids.size, 3, 'every api replica answered');
    const admin = await call(gateway.port, '/admin/pid');
    assert.equal(admin.status, 200);
    assert.ok(!apiPids.has(pidOf(admin)), 'admin is served by its own process');
    const line = await until(
      () => gateway.logs.find((entry) => entry.msg === 'request' && entry.path === '/admin/pid'),
      2000,
      'the access-log line',
      10,
    );
    assert.equal(line.service, 'admin');
    assert.equal(line.replica, 'admin#1');
    assert.equal(line.status, 200);
    assert.equal(line.retries, 0);
    assert.equal(typeof line.durationMs, 'number');
  });

  it('answers 400, 404 and 405 itself, as a replica would', async () => {
    const missing = await call(gateway.port, '/nope', { headers: { 'x-request-id': 'missing-1' } });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, {
      error: { code: 'CLEAVE_ROUTE_NOT_FOUND', message: 'no route for GET /nope', requestId: 'missing-1' },
    });
    const wrongMethod = await call(gateway.port, '/pid', { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'GET, HEAD');
    const climbing = await call(gateway.port, '/../etc/passwd');
    assert.equal(climbing.status, 400);
    assert.equal((climbing.json as { error: { code: string } }).error.code, 'CLEAVE_BAD_REQUEST');
  });

  it('serves static files from the service that owns them', async () => {
    const file = await call(gateway.port, '/assets/hello.txt');
    assert.equal(file.status, 200);
    assert.equal(file.text, 'hello from the api service\n');
    assert.ok(file.headers.etag, 'the replica file server answered');
  });

  it('proxies a JSON body', async () => {
    const answer = await call(gateway.port, '/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world', n: [1, 2, 3] }),
    });
    assert.equal(answer.status, 200);
    assert.deepEqual((answer.json as { body: unknown }).body, { hello: 'world', n: [1, 2, 3] });
  });

  it('streams a 96 MiB upload through without holding it', async () => {
    const upload = generatedUpload(96 * MiB);
    let answer: { bytes: number; sha256: string } | undefined;
    const growth = await peakBufferGrowth(async () => {
      const response = await client.request({
        method: 'POST',
        path: '/upload',
        headers: { 'content-type': 'text/plain' },
        body: upload.body,
      });
      assert.equal(response.statusCode, 200);
      answer = (await response.body.json()) as { bytes: number; sha256: string };
    });
    assert.equal(answer?.bytes, 96 * MiB);
    assert.equal(answer?.sha256, upload.sha256());
    assert.ok(growth < 32 * MiB, `gateway process grew ${(growth / MiB).toFixed(1)} MiB for a 96 MiB upload`);
  });

  it('streams a 64 MiB download to a paused reader without holding it', async () => {
    const size = 64 * MiB;
    const hash = createHash('sha256');
    let received = 0;
    let heldDuringPause = Infinity;
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    const response = await client.request({ method: 'GET', path: `/download?bytes=${size}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-length'], String(size));
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      received += chunk.length;
      if (heldDuringPause === Infinity && received > 4 * MiB) {
        // Stop reading: a gateway without backpressure keeps reading the replica into memory
        // (the replica makes the rest in well under a second); one with it holds socket buffers.
        // The least seen over the pause: V8 frees buffers on a background thread after a GC, so
        // one reading can still include garbage; what is held stays in every reading.
        for (let sample = 0; sample < 5; sample++) {
          await sleep(200);
          gc();
          heldDuringPause = Math.min(heldDuringPause, process.memoryUsage().arrayBuffers - baseline);
        }
      }
    }
    assert.equal(received, size);
    const expected = createHash('sha256');
    const pattern = Buffer.alloc(64 * 1024, 'cleave-');
    for (let i = 0; i < size / pattern.length; i++) expected.update(pattern);
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    assert.ok(heldDuringPause < 8 * MiB, `${(heldDuringPause / MiB).toFixed(1)} MiB held while the reader paused`);
  });

  it('stops the upstream transfer when the client leaves mid-download', async () => {
    const { request } = await import('node:http');
    const req = request({ host: '127.0.0.1', port: gateway.port, path: `/download?bytes=${256 * MiB}`, agent: false });
    req.setHeader('x-request-id', 'leaves-early');
    req.end();
    const [response] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    await once(response, 'data');
    req.destroy();
    for (let i = 0; i < 100 && gateway.logs.every((entry) => entry.requestId !== 'leaves-early'); i++) await sleep(20);
    const line = gateway.logs.find((entry) => entry.requestId === 'leaves-early');
    assert.equal(line?.aborted, true);
    for (let i = 0; i < 100 && [...gateway.replicas.values()].some((replica) => replica.inFlight > 0); i++) {
      await sleep(20);
    }
    assert.deepEqual(
      [...gateway.replicas.values()].map((replica) => replica.inFlight),
      [0, 0, 0, 0],
      'the replica is no longer counted as busy with it',
    );
    assert.ok(
      [...gateway.replicas.values()].every((replica) => replica.healthy),
      'a client leaving is not a replica failure',
    );
  });

  it('answers HEAD with the head of the GET', async () => {
    const answer = await call(gateway.port, '/assets/hello.txt', { method: 'HEAD' });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, '');
    assert.equal(answer.headers['content-length'], '27');
  });

  it('strips hop-by-hop headers and replaces forwarded ones from an untrusted client', async () => {
    const answer = await call(gateway.port, '/headers', {
      headers: {
        connection: 'keep-alive, X-Custom-Hop',
        'x-custom-hop': 'must not pass',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic secret',
        forwarded: 'for=6.6.6.6',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-end-to-end': 'kept',
      },
    });
    const seen = (answer.json as { headers: Record<string, string> }).headers;
    for (const name of ['x-custom-hop', 'keep-alive', 'te', 'proxy-authorization', 'forwarded']) {
      assert.equal(seen[name], undefined, `${name} reached the replica`);
    }
    assert.equal(seen.connection, 'keep-alive', "the gateway's own connection to the replica, not the client's");
    assert.equal(seen['x-end-to-end'], 'kept');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-host'], `127.0.0.1:${gateway.port}`);
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen.host, `127.0.0.1:${gateway.port}`);
    assert.equal(answer.headers['keep-alive']?.includes('timeout=5'), true, "node's own, not the replica's");
  });

  it("can't be made to strip its own forwarded headers with Connection", async () => {
    const answer = await call(gateway.port, '/headers', {
      headers: { connection: 'X-Forwarded-For, X-Request-Id, Host', 'x-forwarded-for': '6.6.6.6' },
    });
    const seen = (answer.json as { headers: Record<string, string> }).headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.match(seen['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(seen.host, `127.0.0.1:${gateway.port}`);
  });

  it('appends to X-Forwarded-For and keeps -Proto and -Host from a trusted proxy', async () => {
    const trusting = await startGateway(cluster.of('api'), { trustedProxies: ['127.0.0.0/8'] });
    try {
      const answer = await call(trusting.port, '/headers', {
        headers: {
          'x-forwarded-for': '203.0.113.7',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'shop.example',
        },
      });
      const seen = (answer.json as { headers: Record<string, string> }).headers;
      assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'https');
      assert.equal(seen['x-forwarded-host'], 'shop.example');
    } finally {
      await trusting.stop();
    }
  });

  it('propagates a sane X-Request-Id upstream and echoes it; replaces an insane one', async () => {
    const kept = await call(gateway.port, '/headers', { headers: { 'x-request-id': 'trace-42.a:b' } });
    assert.equal((kept.json as { headers: Record<string, string> }).headers['x-request-id'], 'trace-42.a:b');
    assert.equal(kept.headers['x-request-id'], 'trace-42.a:b');
    const replaced = await call(gateway.port, '/headers', { headers: { 'x-request-id': 'bad id <script>' } });
    const upstreamId = (replaced.json as { headers: Record<string, string> }).headers['x-request-id'];
    assert.match(upstreamId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(replaced.headers['x-request-id'], upstreamId);
  });

  it('proxies a WebSocket end to end', async () => {
    const apiPids = new Set((await Promise.all(cluster.of('api').map(() => call(gateway.port, '/pid')))).map(pidOf));
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`);
    await once(ws, 'open');
    assert.equal(gateway.upgrades.size, 1);
    const reply = once(ws, 'message');
    ws.send(JSON.stringify({ ping: 1 }));
    const [data] = (await reply) as [Buffer];
    const message = JSON.parse(data.toString('utf8')) as { echo: unknown; pid: number };
    assert.deepEqual(message.echo, { ping: 1 });
    assert.ok(apiPids.has(message.pid), 'answered by an api replica');
    const closed = once(ws, 'close');
    ws.close(1000, 'done');
    const [code] = (await closed) as [number];
    assert.equal(code, 1000, 'the close handshake went through the tunnel');
    for (let i = 0; i < 50 && gateway.upgrades.size > 0; i++) await sleep(20);
    assert.equal(gateway.upgrades.size, 0);
  });

  it('opens no tunnel when the replica answers an upgrade without 101', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws-private`);
    ws.on('error', () => {});
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 401);
    let text = '';
    for await (const chunk of response) text += String(chunk);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'CLEAVE_UNAUTHORIZED');
    assert.equal(response.headers.connection, 'close');
    assert.equal(gateway.upgrades.size, 0);
    ws.terminate();

    const nowhere = new WebSocket(`ws://127.0.0.1:${gateway.port}/no-such-socket`);
    nowhere.on('error', () => {});
    const [, refused] = (await once(nowhere, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(refused.statusCode, 404);
    nowhere.terminate();
  });
});
