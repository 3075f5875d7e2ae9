// Issue 13: the forum, not one line changed, run as two nodes (two `cleave start`, as on two
// machines behind the user's load balancer) that share one real PostgreSQL, one real Redis and
// one real NATS. Any node serves any client: accounts, posts, events, rate limits and cron
// ticks are the app's, not the node's.
//
// Where the test may make network namespaces (root, iproute2), each node is a host of its
// own, with its own address on a bridge, as two machines on one LAN, and the servers are
// reached at a third address (this process's side of the bridge, through TCP relays to the
// machine's servers): nothing a node does may rely on the other being on its host. Elsewhere
// the two nodes are two ports of this host, and the file says so in its title.

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { NATS_URL } from '../helpers/nats.ts';
import { type CutProxy, startCutProxy } from '../helpers/cut-proxy.ts';
import { type Host, type Lan, makeLan, whyNoHosts } from '../helpers/hosts.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { fetchStatus } from '../../src/cli/status.ts';
import { makeClusterCertificates } from '../../src/cluster/certificates.ts';
import { openSocket } from '../helpers/ws-client.ts';
import { sleep, until } from '../helpers/wait.ts';
import {
  childPids,
  type CleaveProcess,
  runToExit,
  startCleave,
  statusOf,
  startTogether,
  stopLeavingNothing,
  titleOf,
} from '../helpers/spawn-cleave.ts';

const SECRET = 'one secret shared by every node of the forum';
const notAsHosts = whyNoHosts();

/** The task worker processes of `node`: `cleave auth/tasks#1`, …. */
function taskWorkersOf(node: CleaveProcess): number[] {
  return childPids(node.child.pid!).filter((pid) => titleOf(pid).includes('/tasks#'));
}

/** CPU time (user + system, in clock ticks) the processes have used so far. */
function cpuTicks(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [utime, stime] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(11, 13);
    return sum + Number(utime) + Number(stime);
  }, 0);
}

interface Answer {
  id?: string;
  text?: string;
  error?: { code: string; message: string; requestId: string };
}

let database: TestDatabase;

// Counts in Redis outlive a run (a failed login is remembered a day) and CI runs this file
// once per Node version: each run is a client of its own, a random address of the IPv6
// documentation range (2001:db8::/32), so no two runs share a count.
const client = `2001:db8:${randomBytes(6).toString('hex').match(/..../g)!.join(':')}::1`;

/** A new account, signed in on `node`: its session cookie. */
async function signedUp(node: CleaveProcess): Promise<string> {
  return (await signedUpAs(node)).cookie;
}

/** A new account, signed up and signed in through `node`: its name and session cookie. */
async function signedUpAs(node: CleaveProcess): Promise<{ username: string; cookie: string }> {
  const account = { username: `u${randomInt(1e9)}`, password: 'correct horse' };
  assert.equal((await send(node.url, '/api/signup', { method: 'POST', body: account })).status, 201);
  const login = await fetch(`${node.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
    body: JSON.stringify(account),
  });
  assert.equal(login.status, 200);
  return { username: account.username, cookie: login.headers.get('set-cookie')!.split(';')[0]! };
}

function pick(object: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, object[key]]));
}

async function send(base: string, path: string, init: { method?: string; body?: unknown; cookie?: string } = {}) {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': client,
      ...(init.cookie ? { cookie: init.cookie } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer };
}

const where = notAsHosts ? `two ports of this host (${notAsHosts})` : 'two hosts (network namespaces)';

type Node = 'a' | 'b' | 'c';
let lan: Lan | undefined;
/** Where each node runs: a host of its own, or this one. */
let hostOf: Record<Node, Partial<Host>> = { a: {}, b: {}, c: {} };
let env: Record<string, string>;
/** B reaches NATS through it: the test takes NATS away from B and gives it back. */
let natsForB: { relay: CutProxy; url: string };
const relays: CutProxy[] = [];
/** The cluster's certificates: each node serves the others on a mutual-TLS listener with its own. */
const cluster = {
  dir: '',
  env: { a: {}, b: {}, c: {} } as Record<Node, Record<string, string>>,
  a: { ca: '', cert: '', key: '' },
};

/**
 * A node's `cleave start`, on its host, with `flags` (`--only posts`; none: every service); a
 * host's every port is free, 3101 is A's, 3102 B's, 3103 C's. B reaches NATS through its
 * relay, and runs one replica per pool whatever the app's scale says (as a Kubernetes pod does).
 */
const startNode = (node: Node, ...flags: string[]) =>
  startCleave(
    ['start', 'examples/forum', ...flags],
    {
      ...env,
      ...(lan ? { PORT: { a: '3101', b: '3102', c: '3103' }[node] } : {}),
      // Each node's gateway also listens for the other's, with its own certificate.
      CLEAVE_NODE_PORT: '0',
      ...cluster.env[node],
      ...(node === 'b' ? { CLEAVE_POOL_REPLICAS: '1', CLEAVE_NATS_URL: natsForB.url } : {}),
    },
    30_000,
    hostOf[node],
  );

// One hook each way: Node 24 does not wait for one file-level hook before it runs the next.
before(async () => {
  database = await createTestDatabase('nodes');
  cluster.dir = await mkdtemp(join(tmpdir(), 'cleave-cluster-'));
  for (const node of ['a', 'b', 'c'] as const) {
    const files = await makeClusterCertificates(cluster.dir, { node });
    cluster.env[node] = {
      CLEAVE_CLUSTER_CA: files.ca,
      CLEAVE_CLUSTER_CERT: files.cert,
      CLEAVE_CLUSTER_KEY: files.key,
    };
  }
  cluster.a = {
    ca: await readFile(join(cluster.dir, 'ca.crt'), 'utf8'),
    cert: await readFile(join(cluster.dir, 'a.crt'), 'utf8'),
    key: await readFile(join(cluster.dir, 'a.key'), 'utf8'),
  };
  lan = notAsHosts ? undefined : makeLan(3);
  const servers = lan?.serversAddress ?? '127.0.0.1';
  /** `url`'s server as the nodes reach it: through a relay on the servers' address. */
  const relayed = async (url: string, defaultPort: number): Promise<{ relay: CutProxy; url: string }> => {
    const target = new URL(url);
    const relay = await startCutProxy({ host: target.hostname, port: Number(target.port || defaultPort) }, servers);
    relays.push(relay);
    target.hostname = servers;
    target.port = String(relay.port);
    return { relay, url: target.href };
  };
  // On one host the servers are reached as they are; only B's NATS goes through a relay.
  const reach = async (url: string, defaultPort: number) => (lan ? (await relayed(url, defaultPort)).url : url);
  env = {
    CLEAVE_STORE: await reach(database.url, 5432),
    CLEAVE_REDIS_URL: await reach(REDIS_URL, 6379),
    CLEAVE_NATS_URL: await reach(NATS_URL, 4222),
    CLEAVE_SECRET: SECRET,
    CLEAVE_AUTOSCALE: 'false',
    // Behind the user's load balancer: the client's address comes in X-Forwarded-For.
    CLEAVE_TRUSTED_PROXIES: ['127.0.0.1', '::1', ...(lan ? [servers] : [])].join(','),
    FORUM_STATS_SCHEDULE: '* * * * * *',
    LOG_LEVEL: 'debug',
  };
  natsForB = await relayed(NATS_URL, 4222);
  if (lan) hostOf = { a: lan.hosts[0]!, b: lan.hosts[1]!, c: lan.hosts[2]! };
});
after(async () => {
  for (const relay of relays) await relay.close();
  lan?.remove();
  if (cluster.dir) await rm(cluster.dir, { recursive: true, force: true });
  await database?.drop();
});

describe(`the forum as two nodes sharing PostgreSQL, Redis and NATS: ${where}`, { timeout: 120_000 }, () => {
  let a: CleaveProcess;
  let b: CleaveProcess;

  // A runs every service; B all but the static pages, which are A's alone.
  before(async () => {
    // At once: both make the same schemas, which must not race.
    [a, b] = (await startTogether([startNode('a'), startNode('b', '--only', 'auth,posts,chat')])) as [
      CleaveProcess,
      CleaveProcess,
    ];
  });
  after(async () => {
    await Promise.all([a && stopLeavingNothing(a), b && stopLeavingNothing(b)]);
  });

  it('signs up on one node and logs in on the other; a post written on either is read on both', async () => {
    const account = { username: `ada${randomInt(1e9)}`, password: 'correct horse' };
    assert.equal((await send(a.url, '/api/signup', { method: 'POST', body: account })).status, 201);
    assert.equal(
      (await send(b.url, '/api/signup', { method: 'POST', body: account })).status,
      409,
      'one account store',
    );
    const login = await fetch(`${b.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      body: JSON.stringify(account),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

    const fromB = await send(b.url, '/api/posts', { method: 'POST', body: { text: 'written on B' }, cookie });
    assert.equal(fromB.status, 201);
    // The session B made is good on A: one secret.
    const fromA = await send(a.url, '/api/posts', { method: 'POST', body: { text: 'written on A' }, cookie });
    assert.equal(fromA.status, 201);
    for (const node of [a, b]) {
      assert.equal((await send(node.url, `/api/posts/${fromB.body.id}`)).body.text, 'written on B');
      assert.equal((await send(node.url, `/api/posts/${fromA.body.id}`)).body.text, 'written on A');
    }
  });

  it("shows a post written on A first in B's list, though B's gateway had the list cached", async () => {
    const cookie = await signedUp(a);
    const texts = async () => {
      const response = await fetch(`${b.url}/api/posts`, { headers: { 'x-forwarded-for': client } });
      const { posts } = (await response.json()) as { posts: Array<{ text: string }> };
      return { cache: response.headers.get('x-cache'), first: posts[0]?.text };
    };
    await texts();
    assert.equal((await texts()).cache, 'HIT', "B's front page is cached at B's gateway");
    const text = `posted on A ${randomInt(1e9)}`;
    assert.equal((await send(a.url, '/api/posts', { method: 'POST', body: { text }, cookie })).status, 201);
    // post.created reaches B's gateway over NATS and drops the page there: milliseconds.
    const seen = await until(
      async () => ((await texts()).first === text ? true : undefined),
      1000,
      "the post in B's list",
    );
    assert.equal(seen, true);
  });

  it('gives chat sent through A to sockets on both nodes, and post.created from B to both', async () => {
    const cookie = await signedUp(b);
    const onA = await openSocket(`${a.url.replace('http', 'ws')}/ws/chat`, { cookie });
    const onB = await openSocket(`${b.url.replace('http', 'ws')}/ws/chat`);
    try {
      await sleep(200); // each chat replica's subscription reaches NATS
      onA.ws.send(JSON.stringify({ type: 'chat', text: 'hello from A' }));
      for (const socket of [onA, onB]) {
        assert.deepEqual(pick((await socket.next()) as Record<string, unknown>, 'type', 'text'), {
          type: 'chat',
          text: 'hello from A',
        });
      }
      const created = await send(b.url, '/api/posts', { method: 'POST', body: { text: 'live on B' }, cookie });
      assert.equal(created.status, 201);
      for (const socket of [onA, onB]) {
        const message = (await socket.next()) as { type: string; post: { id: string } };
        assert.equal(message.type, 'post');
        assert.equal(message.post.id, created.body.id);
      }
    } finally {
      onA.close();
      onB.close();
    }
  });

  it('serves B while NATS is lost to it, and B hears events again once NATS is back, by itself', async () => {
    const cookie = await signedUp(a);
    const onA = await openSocket(`${a.url.replace('http', 'ws')}/ws/chat`, { cookie });
    const onB = await openSocket(`${b.url.replace('http', 'ws')}/ws/chat`);
    const heardOnB: string[] = [];
    onB.ws.on('message', (data: Buffer) => {
      heardOnB.push(String((JSON.parse(data.toString('utf8')) as { text?: string }).text));
    });
    try {
      const outageLines = () => b.logs.filter((line) => String(line.msg).startsWith('NATS unreachable')).length;
      await natsForB.relay.cut();
      await until(() => (outageLines() > 0 ? true : undefined), 5000, 'B notices NATS is gone');
      // Its store and counters are elsewhere: B goes on answering.
      assert.equal((await send(b.url, '/api/stats', { cookie })).status, 200);
      await natsForB.relay.restore();
      // Events are at most once: what A sends while B reconnects may be lost. Each try is new.
      await until(
        async () => {
          const text = `after the outage ${randomInt(1e9)}`;
          onA.ws.send(JSON.stringify({ type: 'chat', text }));
          await sleep(200);
          return heardOnB.includes(text) ? true : undefined;
        },
        10_000,
        "chat from A reaches B's socket again",
      );
      const back = b.logs.filter((line) => line.msg === 'NATS reachable again').length;
      assert.ok(back > 0, 'B says NATS is back');
    } finally {
      onA.close();
      onB.close();
    }
  });

  // Five failures in a row are free (per client and username), the sixth blocks: each node
  // counting its own would allow ten.
  it('blocks wrong logins spread over both nodes after six in all, on both', async () => {
    const wrong = { username: `mallory${randomInt(1e9)}`, password: 'not the password' };
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const node = attempt % 2 === 0 ? a : b;
      const answer = await send(node.url, '/api/login', { method: 'POST', body: wrong });
      statuses.push(answer.status);
      if (answer.status === 429) assert.equal(answer.body.error?.code, 'CLEAVE_RATE_LIMITED');
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429], 'the 7th on A, the 8th on B');
  });

  it("serves other nodes on B's node listener over mutual TLS, and nobody without the cluster's certificate", async () => {
    const line = await until(
      () => b.logs.find((entry) => entry.msg === 'node listener on mutual TLS'),
      5000,
      "B's node listener",
    );
    const host = new URL(b.url).hostname.replace(/^\[|\]$/g, '');
    const port = Number(line.port);
    /** GET `path` on B's node listener with `credentials`: the status, or the error that ended it. */
    const get = (path: string, requestId: string, credentials: { ca: string; cert?: string; key?: string }) =>
      new Promise<number | string>((resolve) => {
        const req = httpsRequest(
          {
            host,
            port,
            path,
            headers: { 'x-request-id': requestId },
            ...credentials,
            checkServerIdentity: () => undefined,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        req.end();
      });
    assert.equal(await get('/api/posts', 'with-certificate', cluster.a), 200);
    const refused = await get('/api/posts', 'no-certificate', { ca: cluster.a.ca });
    assert.equal(typeof refused, 'string', `answered ${refused} without a certificate`);
    const stranger = await makeClusterCertificates(join(cluster.dir, 'elsewhere'), { node: 'x' });
    const foreign = await get('/api/posts', 'foreign-certificate', {
      ca: cluster.a.ca,
      cert: await readFile(stranger.cert, 'utf8'),
      key: await readFile(stranger.key, 'utf8'),
    });
    assert.equal(typeof foreign, 'string', `answered ${foreign} to another CA's certificate`);
    // Refused in the handshake: no request of theirs reached the gateway's pipeline.
    await sleep(200);
    const seen = b.logs.map((entry) => entry.requestId);
    assert.ok(seen.includes('with-certificate'));
    assert.ok(!seen.includes('no-certificate') && !seen.includes('foreign-certificate'));
  });

  it('lists both nodes in cleave status on either, each at its address, with what it runs', async () => {
    // As hosts, a node's address is its host's; on one host, its port tells them apart.
    const addressOf = (address: string) => (lan ? address : address.split(':').at(-1));
    const listed = async (node: CleaveProcess, status = fetchStatus) =>
      (await status(node.port)).nodes.map((entry) => ({
        self: entry.self,
        address: addressOf(entry.address),
        posts: entry.pools.find((pool) => pool.service === 'posts' && pool.kind === 'requests')?.ready,
        services: entry.pools
          .filter((pool) => pool.kind === 'requests')
          .map((pool) => pool.service)
          .sort(),
      }));
    const runs = (node: CleaveProcess) =>
      node === b
        ? { posts: 1, services: ['auth', 'chat', 'posts'] }
        : { posts: 2, services: ['auth', 'chat', 'posts', 'web'] };
    const expected = (self: CleaveProcess, other: CleaveProcess) => [
      { self: true, address: addressOf(self.url.slice('http://'.length)), ...runs(self) },
      { self: false, address: addressOf(other.url.slice('http://'.length)), ...runs(other) },
    ];
    await until(
      async () => (JSON.stringify(await listed(a)) === JSON.stringify(expected(a, b)) ? true : undefined),
      5000,
      'A lists A and B',
      200,
    );
    assert.deepEqual(await listed(b, statusOf), expected(b, a), 'as `cleave status --json` prints it');
    // B runs no web: its gateway sends the page to A's node listener, and A's web answers.
    const page = await until(
      async () => {
        const answer = await fetch(`${b.url}/`, { headers: { 'x-request-id': 'page-through-b' } });
        return answer.status === 200 ? answer : (await answer.arrayBuffer(), undefined);
      },
      5000,
      "the page through B, from A's web",
      200,
    );
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    // A served it: its own logs carry the request id (log lines come through its supervisor,
    // batched, so a moment after the answer).
    await until(
      () => (a.logs.some((line) => line.requestId === 'page-through-b') ? true : undefined),
      3000,
      "the request id in A's logs",
    );
  });

  it("hashes a sign-up storm sent only to A on B's task workers too", async () => {
    const hashedOnB = (): number => cpuTicks(taskWorkersOf(b));
    const before = hashedOnB();
    // Storms of 12 until B's workers have hashed some: how many of a storm B takes depends on
    // when its pulls come round (a busy CI machine can give it one); never any would fail.
    await until(
      async () => {
        const storm = await Promise.all(
          Array.from({ length: 12 }, () =>
            send(a.url, '/api/signup', {
              method: 'POST',
              body: { username: `s${randomInt(1e9)}`, password: 'correct horse' },
            }),
          ),
        );
        assert.deepEqual(
          storm.map((answer) => answer.status),
          storm.map(() => 201),
        );
        // A worker idle the while uses no CPU; each scrypt hash takes tens of milliseconds of it.
        return hashedOnB() - before >= 5 ? true : undefined;
      },
      10_000,
      "B's task workers hashing part of the storms",
      0,
    );
  });

  // Two posts replicas on A, one on B: three schedulers, one run per tick.
  it('runs the stats cron once per tick across both nodes', async () => {
    const runsByTick = (): Map<string, number> => {
      const runs = new Map<string, number>();
      for (const line of [...a.logs, ...b.logs]) {
        if (line.job !== 'posts.stats') continue;
        if (line.msg !== 'cron run finished' && line.msg !== 'cron run failed') continue;
        runs.set(String(line.tick), (runs.get(String(line.tick)) ?? 0) + 1);
      }
      return runs;
    };
    const seenBefore = new Set(runsByTick().keys());
    await sleep(4500);
    const ticks = [...runsByTick()].filter(([tick]) => !seenBefore.has(tick));
    assert.ok(ticks.length >= 3, `expected runs of at least 3 ticks in 4.5 s, saw ${ticks.length}`);
    for (const [tick, runs] of ticks) assert.equal(runs, 1, `tick ${tick} ran ${runs} times`);
    const ranOn = new Set(
      [...a.logs.map((line) => ({ node: 'A', line })), ...b.logs.map((line) => ({ node: 'B', line }))]
        .filter(({ line }) => line.msg === 'cron tick taken by another replica' && line.job === 'posts.stats')
        .map(({ node }) => node),
    );
    assert.deepEqual([...ranOn].sort(), ['A', 'B'], 'both nodes schedule the job; the lease decides who runs it');
  });

  // Last: it kills node A. Node A here is every process of one `cleave start`, as a machine
  // lost at once; the writes go through both nodes, as a load balancer would send them.
  it('loses nothing acknowledged when node A is killed mid-write, B answers throughout, and A rejoins', async () => {
    const cookie = await signedUp(b);
    const acknowledged: string[] = [];
    const failedOnB: string[] = [];
    let writing = true;
    const writes = (async () => {
      for (let write = 0; writing; write++) {
        const node = write % 2 === 0 ? a : b;
        try {
          const answer = await send(node.url, '/api/posts', {
            method: 'POST',
            body: { text: `write ${write}` },
            cookie,
          });
          if (answer.status === 201) acknowledged.push(answer.body.id!);
          else if (node === b) failedOnB.push(`${answer.status} ${answer.body.error?.code}`);
        } catch (error) {
          // A's connection refused or reset is the point; B's would be a failure.
          if (node === b) failedOnB.push(String(error));
        }
      }
    })();
    await until(() => (acknowledged.length >= 20 ? true : undefined), 10_000, 'writes acknowledged before the kill');
    const killed = [a.child.pid!, ...childPids(a.child.pid!)];
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    const countAtKill = acknowledged.length;
    await until(
      () => (acknowledged.length >= countAtKill + 20 ? true : undefined),
      10_000,
      'B acknowledges writes after the kill',
    );
    writing = false;
    await writes;
    assert.deepEqual(failedOnB, [], 'B answered every write');
    for (const id of acknowledged) {
      const read = await send(b.url, `/api/posts/${id}`, { cookie });
      assert.equal(read.status, 200, `post ${id}, acknowledged, is readable through B`);
    }
    await until(
      async () => ((await fetchStatus(b.port)).nodes.length === 1 ? true : undefined),
      10_000,
      "A leaves B's list once it misses its heartbeats",
      250,
    );

    a = await startNode('a');
    await until(
      async () => ((await fetchStatus(b.port)).nodes.length === 2 ? true : undefined),
      5000,
      "A, restarted, is in B's list again",
      250,
    );
    const written = await send(a.url, '/api/posts', { method: 'POST', body: { text: 'after the restart' }, cookie });
    assert.equal(written.status, 201);
    assert.equal((await send(b.url, `/api/posts/${written.body.id}`, { cookie })).body.text, 'after the restart');
  });
});

// Issue 14's proof: the forum split by service over the two nodes, one gateway in front, as a
// team puts its login's hashing on one kind of machine and its posts on another.
describe(
  `the forum split by service: A runs web, auth and chat, B posts, C a gateway: ${where}`,
  { timeout: 90_000 },
  () => {
    let a: CleaveProcess;
    let b: CleaveProcess;
    /** A gateway alone, as cleave export k8s makes the gateway's pods. */
    let c: CleaveProcess;
    /** B's node id, as A's gateway names B's listener in its pools and logs: `node:<id>`. */
    let bNode: string;

    before(async () => {
      [a, b, c] = (await startTogether([
        startNode('a', '--only', 'web,auth,chat'),
        startNode('b', '--only', 'posts'),
        startNode('c', '--gateway-only'),
      ])) as [CleaveProcess, CleaveProcess, CleaveProcess];
      bNode = `node:${(await fetchStatus(b.port)).nodes[0]!.id}`;
      // A hears B's heartbeat (posts ready) within a second of B's start.
      // Each node hears the others' heartbeats (every pool ready) within a second of their start.
      for (const [node, path] of [
        [a, '/api/stats'],
        [b, '/'],
        [c, '/api/stats'],
        [c, '/'],
      ] as const) {
        await until(
          async () => ((await fetch(`${node.url}${path}`)).status === 200 ? true : undefined),
          5000,
          `${path} through ${node.url}`,
          100,
        );
      }
    });
    after(async () => {
      await Promise.all([a && stopLeavingNothing(a), b && stopLeavingNothing(b), c && stopLeavingNothing(c)]);
    });

    it("serves the whole forum through A: sign-up, login, posts on B (whose call reaches A's auth), chat and live push", async () => {
      const { username, cookie } = await signedUpAs(a);
      // One socket through A (chat runs there), one through B: B runs no chat, so its gateway
      // tunnels the upgrade to A's node listener over mutual TLS.
      const throughA = await openSocket(`${a.url.replace('http', 'ws')}/ws/chat`, { cookie });
      const throughB = await openSocket(`${b.url.replace('http', 'ws')}/ws/chat`);
      try {
        await sleep(200); // each chat replica's subscription reaches NATS
        const post = await fetch(`${a.url}/api/posts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': 'post-through-a', cookie },
          body: JSON.stringify({ text: 'split by service' }),
        });
        assert.equal(post.status, 201);
        const created = (await post.json()) as { id: string; author: { username: string } };
        // posts asked auth who the author is: a call from B's posts to A's auth.
        assert.equal(created.author.username, username);
        // post.created, emitted on B, pushed by A's chat to both sockets.
        for (const socket of [throughA, throughB]) {
          const message = (await socket.next()) as { type: string; post: { id: string } };
          assert.equal(message.type, 'post');
          assert.equal(message.post.id, created.id);
        }
        throughB.ws.send(JSON.stringify({ type: 'chat', text: 'hello through B' }));
        for (const socket of [throughA, throughB]) {
          assert.deepEqual(pick((await socket.next()) as Record<string, unknown>, 'type', 'text'), {
            type: 'chat',
            text: 'hello through B',
          });
        }
        assert.equal((await send(a.url, `/api/posts/${created.id}`)).body.text, 'split by service');
        // A's gateway sent the write to B's listener; B's posts replica ran it.
        await until(
          () => {
            const atA = a.logs.find(
              (line) => line.requestId === 'post-through-a' && line.msg === 'request' && line.replica !== undefined,
            );
            const atB = b.logs.find((line) => line.requestId === 'post-through-a' && line.service === 'posts');
            return atA && atB ? atA : undefined;
          },
          3000,
          "the write in both nodes' logs",
        ).then((line) => assert.equal(line.replica, bNode));
      } finally {
        throughA.close();
        throughB.close();
      }
    });

    it('serves the forum through C, a node running only a gateway: sign-up on A, posts on B, chat on A', async () => {
      assert.deepEqual((await fetchStatus(c.port)).nodes[0]!.pools, [], 'C runs no pool');
      const page = await fetch(`${c.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      const cookie = await signedUp(c);
      const socket = await openSocket(`${c.url.replace('http', 'ws')}/ws/chat`, { cookie });
      try {
        await sleep(200); // the chat replica's subscription reaches NATS
        const created = await send(c.url, '/api/posts', { method: 'POST', body: { text: 'through C' }, cookie });
        assert.equal(created.status, 201);
        const message = (await socket.next()) as { type: string; post: { id: string } };
        assert.deepEqual([message.type, message.post.id], ['post', created.body.id]);
        assert.equal((await send(c.url, `/api/posts/${created.body.id}`)).body.text, 'through C');
      } finally {
        socket.close();
      }
    });

    it("answers only 502/504 with a request id while B's one posts replica is dead, and nothing but 200 once it is back", async () => {
      const postsOfB = () => childPids(b.child.pid!).filter((pid) => titleOf(pid) === 'cleave posts#1');
      const [victim] = postsOfB();
      assert.ok(victim, "B's posts replica");
      interface Outcome {
        sentAt: number;
        answeredAt: number;
        status: number;
        header: string | null;
        requestId: string | undefined;
      }
      const outcomes: Outcome[] = [];
      let loading = true;
      // Four readers of posts' stats through A, as fast as answers come; each request from an
      // address of its own, as many clients' would be (one client's would be rate limited).
      const clients = Array.from({ length: 4 }, async () => {
        while (loading) {
          const sentAt = performance.now();
          const from = `2001:db8:${randomBytes(6).toString('hex').match(/..../g)!.join(':')}::2`;
          const response = await fetch(`${a.url}/api/stats`, { headers: { 'x-forwarded-for': from } });
          const body = (await response.json()) as Answer;
          outcomes.push({
            sentAt,
            answeredAt: performance.now(),
            status: response.status,
            header: response.headers.get('x-request-id'),
            requestId: body.error?.requestId,
          });
        }
      });
      await sleep(500);
      const killedAt = performance.now();
      process.kill(victim, 'SIGKILL');
      // B's supervisor starts another; answers come from it once B's gateway has it.
      const back = await until(
        () => outcomes.find((outcome) => outcome.sentAt > killedAt && outcome.status === 200),
        15_000,
        'a 200 after the kill',
        50,
      );
      await sleep(1000);
      loading = false;
      await Promise.all(clients);
      assert.ok(
        postsOfB().some((pid) => pid !== victim),
        'B restarted its posts replica',
      );
      const failed = outcomes.filter((outcome) => outcome.status !== 200);
      for (const outcome of failed) {
        assert.ok([502, 504].includes(outcome.status), `answered ${outcome.status}`);
        assert.ok(outcome.requestId && outcome.requestId === outcome.header, 'the error names its request id');
        assert.ok(outcome.answeredAt > killedAt, 'no error before the kill');
        assert.ok(outcome.sentAt < back.answeredAt, 'no error once a replica answered again');
      }
      const after = outcomes.filter((outcome) => outcome.sentAt > back.answeredAt);
      assert.ok(after.length >= 20, `${after.length} answers after the restart`);
    });
  },
);

describe('cleave start --only', { timeout: 60_000 }, () => {
  it('refuses a service the app does not have, in one line naming the ones it has', async () => {
    const { code, stderr } = await runToExit(['start', 'examples/forum', '--only', 'posts,billing'], {
      PORT: '0',
      CLEAVE_NATS_URL: NATS_URL,
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^cleave: CLEAVE_CONFIG_INVALID CLEAVE_ONLY: billing is not a service of forum \(its services: web, auth, posts, chat\)\n$/,
    );
  });
});

describe('the forum when Redis is unreachable at start', { timeout: 60_000 }, () => {
  for (const mode of ['dev', 'start'] as const) {
    it(`cleave ${mode} refuses to start in one line, without the password`, async () => {
      const { code, stderr } = await runToExit([mode, 'examples/forum'], {
        PORT: '0',
        CLEAVE_REDIS_URL: 'redis://:hunter2@127.0.0.1:1',
      });
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^cleave: CLEAVE_REDIS_UNAVAILABLE cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED.*\n$/,
      );
      assert.doesNotMatch(stderr, /hunter2/);
    });
  }
});
