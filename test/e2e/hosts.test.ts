// Issue 13, as two hosts: the forum's two nodes each in a network namespace of its own with
// its own address, as two machines on one LAN, and the servers they share on a third address
// (this process's side of the bridge): a NATS with JetStream the test starts there, and the
// machine's PostgreSQL and Redis reached through it. Nothing a node does may rely on the
// other being on the same host: no loopback, no shared unix socket.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchStatus } from '../../src/cli/status.ts';
import { type CutProxy, startCutProxy } from '../helpers/cut-proxy.ts';
import { type Lan, makeLan, whyNoHosts } from '../helpers/hosts.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { type CleaveProcess, startCleave, stopLeavingNothing } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';
import { openSocket } from '../helpers/ws-client.ts';

const NATS_SERVER = '/usr/sbin/nats-server';
const why = whyNoHosts();

async function listening(host: string, port: number, timeoutMs: number): Promise<void> {
  await until(
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = connect(port, host, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      }),
    timeoutMs,
    `a server on ${host}:${port}`,
    50,
  );
}

describe(
  'the forum as two hosts (network namespaces) sharing NATS, PostgreSQL and Redis',
  {
    timeout: 120_000,
    ...(why ? { skip: why } : {}),
  },
  () => {
    let lan: Lan;
    let nats: ChildProcess;
    let natsDir: string;
    let database: TestDatabase;
    const proxies: CutProxy[] = [];
    let a: CleaveProcess;
    let b: CleaveProcess;

    before(async () => {
      lan = makeLan(2);
      const servers = lan.serversAddress;
      natsDir = await mkdtemp(join(tmpdir(), 'cleave-hosts-nats-'));
      nats = spawn(NATS_SERVER, ['-a', servers, '-p', '4222', '-js', '-sd', natsDir], { stdio: 'ignore' });
      database = await createTestDatabase('hosts');
      // PostgreSQL and Redis listen on this machine's loopback only: each is offered on the LAN
      // through a TCP relay, as a router would.
      const offered = async (url: string, defaultPort: number): Promise<string> => {
        const target = new URL(url);
        const proxy = await startCutProxy({ host: target.hostname, port: Number(target.port || defaultPort) }, servers);
        proxies.push(proxy);
        target.hostname = servers;
        target.port = String(proxy.port);
        return target.href;
      };
      const env = {
        CLEAVE_NATS_URL: `nats://${servers}:4222`,
        CLEAVE_STORE: await offered(database.url, 5432),
        CLEAVE_REDIS_URL: await offered(REDIS_URL, 6379),
        CLEAVE_SECRET: 'one secret shared by every host of the forum',
        CLEAVE_AUTOSCALE: 'false',
      };
      await listening(servers, 4222, 5000);
      const [hostA, hostB] = lan.hosts as [Lan['hosts'][0], Lan['hosts'][0]];
      // Ports of their own: each host has all of them free, but `cleave status` finds a node
      // by its port through a socket in the one file system the hosts share.
      [a, b] = await Promise.all([
        startCleave(['start', 'examples/forum'], { ...env, PORT: '3101' }, 30_000, hostA),
        startCleave(['start', 'examples/forum'], { ...env, PORT: '3102' }, 30_000, hostB),
      ]);
    });

    after(async () => {
      await Promise.all([a, b].filter(Boolean).map((node) => stopLeavingNothing(node)));
      for (const proxy of proxies) await proxy.close();
      if (nats && nats.exitCode === null) {
        nats.kill();
        await once(nats, 'exit');
      }
      if (natsDir) await rm(natsDir, { recursive: true, force: true });
      await database?.drop();
      lan?.remove();
    });

    it('lists each node at its own host’s address on both', async () => {
      const addresses = async (node: CleaveProcess) =>
        (await fetchStatus(node.port)).nodes.map((entry) => `${entry.self ? 'self ' : ''}${entry.address}`).sort();
      const expected = [a.url.slice('http://'.length), b.url.slice('http://'.length)];
      await until(async () => ((await addresses(a)).length === 2 ? true : undefined), 5000, 'A hears B', 200);
      assert.deepEqual(await addresses(a), [`self ${expected[0]}`, expected[1]].sort());
      assert.deepEqual(await addresses(b), [expected[0], `self ${expected[1]}`].sort());
    });

    it('signs up on one host and logs in on the other; a post written on A is first in B’s list', async () => {
      const account = { username: `h${randomInt(1e9)}`, password: 'correct horse' };
      const json = { 'content-type': 'application/json' };
      const signup = await fetch(`${a.url}/api/signup`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(account),
      });
      assert.equal(signup.status, 201);
      const login = await fetch(`${b.url}/api/login`, { method: 'POST', headers: json, body: JSON.stringify(account) });
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const text = `written on host A ${randomInt(1e9)}`;
      const written = await fetch(`${a.url}/api/posts`, {
        method: 'POST',
        headers: { ...json, cookie },
        body: JSON.stringify({ text }),
      });
      assert.equal(written.status, 201);
      const first = async () =>
        ((await (await fetch(`${b.url}/api/posts`)).json()) as { posts: Array<{ text: string }> }).posts[0]?.text;
      assert.equal(await until(async () => ((await first()) === text ? true : undefined), 2000, 'the post on B'), true);
    });

    it('gives chat sent through A to a socket on B', async () => {
      const account = { username: `c${randomInt(1e9)}`, password: 'correct horse' };
      const json = { 'content-type': 'application/json' };
      await fetch(`${a.url}/api/signup`, { method: 'POST', headers: json, body: JSON.stringify(account) });
      const login = await fetch(`${a.url}/api/login`, { method: 'POST', headers: json, body: JSON.stringify(account) });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const onA = await openSocket(`${a.url.replace('http', 'ws')}/ws/chat`, { cookie });
      const onB = await openSocket(`${b.url.replace('http', 'ws')}/ws/chat`);
      try {
        // Sent until one arrives: each chat replica's subscription reaches NATS in its own time.
        const heard = onB.next();
        const sending = setInterval(() => onA.ws.send(JSON.stringify({ type: 'chat', text: 'across hosts' })), 100);
        try {
          const message = (await heard) as { type: string; text: string };
          assert.deepEqual({ type: message.type, text: message.text }, { type: 'chat', text: 'across hosts' });
        } finally {
          clearInterval(sending);
        }
      } finally {
        onA.ws.close();
        onB.ws.close();
      }
    });
  },
);
