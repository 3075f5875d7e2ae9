// Consistent hashing on the client address through the gateway, with real replica processes:
// an address keeps its replica, addresses spread over the pool, and when a replica leaves
// only its clients move. Clients come from several loopback addresses (127.0.0.x). Cookie
// affinity: each client pinned by the gateway's cookie, set on plain answers and on
// WebSocket handshakes alike, and across nodes: a gateway whose pool holds another node's
// listener, which picks among its own replicas, keeps a client on one of them.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { makeClusterCertificates } from '../../src/cluster/certificates.ts';
import { Replica } from '../../src/upstream/replica.ts';
import { ReplicaCluster, type RunningGateway, startGateway } from '../fixtures/gateway-app/harness.ts';

function get(port: number, address: string, cookie?: string): Promise<{ pid: number; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const headers = cookie === undefined ? {} : { cookie };
    const req = request(
      { host: '127.0.0.1', port, path: '/pid', localAddress: address, agent: false, headers },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          resolve({ pid: (JSON.parse(body) as { pid: number }).pid, setCookie: res.headers['set-cookie'] ?? [] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const pidOf = (data: Buffer) => (JSON.parse(data.toString()) as { pid: number }).pid;

const pidFrom = async (port: number, address: string) => (await get(port, address)).pid;

const addresses = Array.from({ length: 24 }, (_, i) => `127.0.0.${i + 10}`);

describe('sticky sessions: consistent hash on the client address', { timeout: 60_000 }, () => {
  const cluster = new ReplicaCluster();
  let gateway: RunningGateway;

  before(async () => {
    await cluster.start({ api: 3 });
    gateway = await startGateway(cluster.replicas, { balancer: 'consistent-hash' });
  });
  after(async () => {
    await gateway?.stop();
    await cluster.stop();
  });

  it('keeps each address on one replica, spreads addresses, and moves only the clients of one that leaves', async () => {
    const owner = new Map<string, number>();
    for (const address of addresses) owner.set(address, await pidFrom(gateway.port, address));
    for (const address of addresses) {
      for (let i = 0; i < 3; i++) assert.equal(await pidFrom(gateway.port, address), owner.get(address), address);
    }
    assert.equal(new Set(owner.values()).size, 3, 'the addresses use every replica');

    // One replica leaves the pool (as on scale-down): its clients move, nobody else does.
    const leaving = cluster.of('api')[0];
    assert.ok(leaving);
    const leavingPid = leaving.child.pid;
    await gateway.pools.remove('api', leaving.id);
    for (const address of addresses) {
      const now = await pidFrom(gateway.port, address);
      if (owner.get(address) === leavingPid) assert.notEqual(now, leavingPid, `${address} moved`);
      else assert.equal(now, owner.get(address), `${address} stayed`);
    }
  });
});

describe('sticky sessions: cookie affinity', { timeout: 60_000 }, () => {
  const cluster = new ReplicaCluster();
  let gateway: RunningGateway;

  before(async () => {
    await cluster.start({ api: 3 });
    gateway = await startGateway(cluster.replicas, { balancer: 'cookie-affinity' });
  });
  after(async () => {
    await gateway?.stop();
    await cluster.stop();
  });

  it('pins each client with a cookie, even clients sharing one address, and re-pins when its replica leaves', async () => {
    const clients: Array<{ cookie: string; pid: number }> = [];
    for (let i = 0; i < 9; i++) {
      const first = await get(gateway.port, '127.0.0.1');
      const cookie = first.setCookie[0]?.split(';')[0] ?? '';
      assert.match(cookie, /^cleave_api=api%23\d$/);
      assert.match(first.setCookie[0] ?? '', /HttpOnly; SameSite=Lax/i);
      clients.push({ cookie, pid: first.pid });
    }
    assert.equal(new Set(clients.map((client) => client.pid)).size, 3, 'one address, spread over every replica');
    for (const client of clients) {
      const again = await get(gateway.port, '127.0.0.1', client.cookie);
      assert.equal(again.pid, client.pid, 'the cookie keeps the client on its replica');
      assert.deepEqual(again.setCookie, [], 'no new cookie while it holds');
    }
    const leaving = cluster.of('api')[0];
    assert.ok(leaving);
    await gateway.pools.remove('api', leaving.id);
    const orphan = clients.find((client) => client.pid === leaving.child.pid);
    assert.ok(orphan);
    const moved = await get(gateway.port, '127.0.0.1', orphan.cookie);
    assert.notEqual(moved.pid, leaving.child.pid);
    assert.equal(moved.setCookie.length, 1, 'a new cookie for its new replica');
  });

  it('pins a WebSocket client with the cookie its handshake answer sets', async () => {
    const upgrades = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`);
        // Both listened for at once: ws emits open right after upgrade, in the same tick.
        const [[response]] = (await Promise.all([once(ws, 'upgrade'), once(ws, 'open')])) as [
          [IncomingMessage],
          unknown,
        ];
        ws.send('hi');
        const [data] = (await once(ws, 'message')) as [Buffer];
        ws.close();
        return { cookie: response.headers['set-cookie']?.[0]?.split(';')[0] ?? '', pid: pidOf(data) };
      }),
    );
    for (const { cookie, pid } of upgrades) {
      assert.match(cookie, /^cleave_api=api%23\d$/);
      const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`, { headers: { cookie } });
      const [[response]] = (await Promise.all([once(ws, 'upgrade'), once(ws, 'open')])) as [[IncomingMessage], unknown];
      assert.equal(response.headers['set-cookie'], undefined, 'no new cookie while it holds');
      ws.send('again');
      const [data] = (await once(ws, 'message')) as [Buffer];
      ws.close();
      assert.equal(pidOf(data), pid, 'the cookie brings the socket back to its replica');
    }
  });
});

/** A WebSocket to `/ws` through `port` with `cookie`: the cookie its handshake set, and the pid that echoed. */
async function socketVia(port: number, cookie?: string): Promise<{ setCookie: string | undefined; pid: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, cookie === undefined ? {} : { headers: { cookie } });
  const [[response]] = (await Promise.all([once(ws, 'upgrade'), once(ws, 'open')])) as [[IncomingMessage], unknown];
  ws.send('hi');
  const [data] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  return { setCookie: response.headers['set-cookie']?.[0]?.split(';')[0], pid: pidOf(data) };
}

describe('sticky sessions: cookie affinity across nodes', { timeout: 60_000 }, () => {
  const cluster = new ReplicaCluster();
  let certificates = '';
  /** Node A's public gateway: api#1 here, and node B's listener as one more replica. */
  let a: RunningGateway;
  /** Node B's listener, mutual TLS: api#2 and api#3. */
  let b: RunningGateway;
  /** Node C's certificate: its listener joins the last test, with no replica of api. */
  let ofC: { ca: string; cert: string; key: string };

  before(async () => {
    await cluster.start({ api: 3 });
    certificates = await mkdtemp(join(tmpdir(), 'cleave-sticky-'));
    const pem = async (node: string) => {
      const files = await makeClusterCertificates(certificates, { node });
      return {
        ca: await readFile(files.ca, 'utf8'),
        cert: await readFile(files.cert, 'utf8'),
        key: await readFile(files.key, 'utf8'),
      };
    };
    const [ofA, ofB] = [await pem('a'), await pem('b')];
    ofC = await pem('c');
    const [here, ...there] = cluster.of('api');
    b = await startGateway(there, {
      balancer: 'cookie-affinity',
      asNode: { id: 'b', tls: { cert: ofB.cert, key: ofB.key, clientCa: ofB.ca, hsts: false } },
    });
    a = await startGateway(here ? [here] : [], { balancer: 'cookie-affinity', clusterTls: ofA });
    a.pools.add('api', new Replica('node:b', { host: '127.0.0.1', port: b.port, tls: true }));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await cluster.stop();
    if (certificates) await rm(certificates, { recursive: true, force: true });
  });

  const pinned = /^cleave_api=(api%23\d|node%3Ab%2Fapi%23\d)$/;

  it('names the node and its replica in one cookie, and keeps each client on that replica', async () => {
    const clients: Array<{ cookie: string; pid: number }> = [];
    for (let i = 0; i < 12; i++) {
      const first = await get(a.port, '127.0.0.1');
      assert.equal(first.setCookie.length, 1, `one cookie, not one per gateway: ${first.setCookie.join(' | ')}`);
      const cookie = first.setCookie[0]!.split(';')[0]!;
      assert.match(cookie, pinned);
      clients.push({ cookie, pid: first.pid });
    }
    assert.equal(new Set(clients.map((client) => client.pid)).size, 3, "A's replica and both of B's");
    for (const client of clients) {
      const again = await get(a.port, '127.0.0.1', client.cookie);
      assert.equal(again.pid, client.pid, `${client.cookie} keeps its replica`);
      assert.deepEqual(again.setCookie, [], 'no new cookie while it holds');
    }
    // A replica of B leaves: its clients move to B's other one, and their cookie says so.
    const leaving = cluster.of('api')[1]!;
    await b.pools.remove('api', leaving.id);
    const orphan = clients.find((client) => client.pid === leaving.child.pid)!;
    const moved = await get(a.port, '127.0.0.1', orphan.cookie);
    assert.notEqual(moved.pid, leaving.child.pid);
    assert.equal(moved.setCookie.length, 1);
    assert.match(moved.setCookie[0]!, /^cleave_api=(api%23[13]|node%3Ab%2Fapi%233);/);
    b.pools.add('api', b.replicas.get(leaving.id)!);
  });

  it('tunnels WebSockets to the other node over mutual TLS, pinned by the same cookie', async () => {
    const sockets = await Promise.all(Array.from({ length: 6 }, () => socketVia(a.port)));
    assert.ok(
      sockets.some((socket) => socket.setCookie?.startsWith('cleave_api=node%3Ab')),
      `some socket reached B: ${sockets.map((socket) => socket.setCookie).join(' | ')}`,
    );
    for (const { setCookie, pid } of sockets) {
      assert.match(setCookie ?? '', pinned);
      const again = await socketVia(a.port, setCookie);
      assert.equal(again.setCookie, undefined, 'no new cookie while it holds');
      assert.equal(again.pid, pid, `${setCookie} brings the socket back to its replica`);
    }
  });

  it('tries another node when one has no replica of the service, and never shows the client its refusal', async () => {
    const c = await startGateway([], {
      balancer: 'cookie-affinity',
      asNode: { id: 'c', tls: { cert: ofC.cert, key: ofC.key, clientCa: ofC.ca, hsts: false } },
    });
    a.pools.add('api', new Replica('node:c', { host: '127.0.0.1', port: c.port, tls: true }));
    try {
      const pids = new Set(cluster.of('api').map((replica) => replica.child.pid));
      for (let i = 0; i < 12; i++) {
        const answer = await get(a.port, '127.0.0.1');
        assert.ok(pids.has(answer.pid), `answered by a replica, not ${JSON.stringify(answer)}`);
      }
      assert.ok(
        c.logs.some((line) => line.msg === 'request' && line.status === 502),
        'C was asked, and declined',
      );
    } finally {
      await a.pools.remove('api', 'node:c');
      await c.stop();
    }
  });
});
