// The gateway when replicas fail: kill -9 under load costs clients nothing, a POST is retried
// only when it never reached the dying replica, and a slow replica is a 504, never a hang.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { call, pidOf } from '../fixtures/gateway-app/client.ts';
import {
  ReplicaCluster,
  startGateway,
  type ReplicaProcess,
  type RunningGateway,
} from '../fixtures/gateway-app/harness.ts';
import { until } from '../helpers/wait.ts';

async function kill9(replica: ReplicaProcess): Promise<void> {
  const exited = once(replica.child, 'exit');
  replica.child.kill('SIGKILL');
  await exited;
}

function requestLines(gateway: RunningGateway): Array<Record<string, unknown>> {
  return gateway.logs.filter((entry) => entry.msg === 'request');
}

/** The access-log line of `requestId`: written as the answer ends, so it may follow the answer by a moment. */
function logged(gateway: RunningGateway, requestId: string): Promise<Record<string, unknown>> {
  return until(
    () => requestLines(gateway).find((entry) => entry.requestId === requestId),
    2000,
    `the access-log line of ${requestId}`,
    10,
  );
}

describe('gateway when replicas fail', { timeout: 90_000 }, () => {
  const cluster = new ReplicaCluster();
  const gateways: RunningGateway[] = [];
  let api: ReplicaProcess[] = [];

  async function gatewayFor(replicas: ReplicaProcess[], options: Parameters<typeof startGateway>[1] = {}) {
    const gateway = await startGateway(replicas, options);
    gateways.push(gateway);
    return gateway;
  }

  before(async () => {
    await cluster.start({ api: 3 });
    api = cluster.of('api');
  });

  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await cluster.stop();
  });

  it('answers 504 at the response timeout when a replica is slow, without retrying', async () => {
    const gateway = await gatewayFor(api, { responseTimeoutMs: 400 });
    const started = performance.now();
    const answer = await call(gateway.port, '/slow?ms=3000', { headers: { 'x-request-id': 'slow-1' } });
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 504);
    assert.deepEqual(answer.json, {
      error: { code: 'CLEAVE_UPSTREAM_TIMEOUT', message: 'api did not answer in time', requestId: 'slow-1' },
    });
    assert.ok(elapsed >= 380 && elapsed < 1500, `answered after ${Math.round(elapsed)} ms`);
    const line = await logged(gateway, 'slow-1');
    assert.equal(line.retries, 0, 'a slow request is not sent to a second replica');
    assert.ok(
      [...gateway.replicas.values()].every((replica) => replica.healthy),
      'slowness is not a health failure',
    );
  });

  it('loses no request when a replica is killed -9 under steady GET load', async () => {
    const gateway = await gatewayFor(api);
    const client = new Pool(gateway.url, { connections: 20 });
    const victim = api[2] as ReplicaProcess;
    const victimPid = victim.child.pid;
    const failures: string[] = [];
    const pidsAfterKill = new Set<number>();
    let ok = 0;
    let killed = false;
    const deadline = Date.now() + 2000;
    const loop = async () => {
      while (Date.now() < deadline) {
        try {
          const response = await client.request({ method: 'GET', path: '/pid' });
          const body = (await response.body.json()) as { pid: number };
          if (response.statusCode === 200) ok += 1;
          else failures.push(`status ${response.statusCode}: ${JSON.stringify(body)}`);
          if (killed) pidsAfterKill.add(body.pid);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = Array.from({ length: 20 }, loop);
    // Under way for a while before the kill, so the victim holds requests in flight when it dies.
    await sleep(500);
    await kill9(victim);
    killed = true;
    await Promise.all(loops);
    await client.close();

    assert.deepEqual(failures, [], 'every client request succeeded');
    assert.ok(ok > 200, `only ${ok} requests in 2 s`);
    assert.ok(!pidsAfterKill.has(victimPid as number), 'nothing answered by the dead replica after its death');
    const retried = requestLines(gateway).filter((entry) => (entry.retries as number) > 0);
    assert.ok(retried.length > 0, 'requests that met the dead replica went to another');
    assert.equal(gateway.replicas.get(victim.id)?.healthy, false, 'passive health took the dead replica out');
  });

  it('retries a POST on another replica when the first one refused the connection', async () => {
    const [live, , dead] = api as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    assert.notEqual(dead.child.signalCode, null, 'killed by the previous test');
    // Round robin starts with the first replica: the dead one gets the POST first.
    const gateway = await gatewayFor([dead, live], { balancer: 'round-robin' });
    const answer = await call(gateway.port, '/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'post-refused' },
      body: JSON.stringify({ n: 1 }),
    });
    assert.equal(answer.status, 200);
    assert.deepEqual((answer.json as { body: unknown }).body, { n: 1 });
    assert.equal(pidOf(answer), live.child.pid);
    const line = await logged(gateway, 'post-refused');
    assert.equal(line.retries, 1);
    assert.equal(line.replica, live.id);
  });

  it('survives a client that leaves mid-body after its 502 (issue 12 review)', async () => {
    const [, , dead] = api as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    const gateway = await gatewayFor([dead]);
    // The 502 comes before the body is complete; then the client goes with its body unsent. An
    // unheard error on the stream that carried that body would take the gateway (this process) down.
    const socket = connect(gateway.port, '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"n":',
    );
    await until(() => (/^HTTP\/1\.1 502 /.test(text) ? true : undefined), 5000, 'the 502');
    socket.destroy();
    await once(socket, 'close');
    // Another loop turn or two for whatever the close sets off, then the gateway still answers.
    await sleep(50);
    const answer = await call(gateway.port, '/echo', { method: 'GET' });
    assert.equal(answer.status, 405);
  });

  it('opens a WebSocket through another replica when the first refuses the connection', async () => {
    const [live, , dead] = api as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    const gateway = await gatewayFor([dead, live], { balancer: 'round-robin' });
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`);
    await once(ws, 'open');
    const reply = once(ws, 'message');
    ws.send('"hello"');
    const [data] = (await reply) as [Buffer];
    assert.deepEqual(JSON.parse(data.toString('utf8')), { echo: 'hello', pid: live.child.pid });
    ws.close();
    await once(ws, 'close');
    const line = gateway.logs.find((entry) => entry.msg === 'upgrade');
    assert.equal(line?.status, 101);
    assert.equal(line?.retries, 1);
    assert.equal(line?.replica, live.id);
  });

  it('answers 502 with the request id when the replica dies with a POST in flight', async () => {
    const [, doomed] = api as [ReplicaProcess, ReplicaProcess];
    const [survivor] = api as [ReplicaProcess];
    const gateway = await gatewayFor([doomed, survivor], { balancer: 'round-robin' });
    const answer = await call(gateway.port, '/die', { method: 'POST', headers: { 'x-request-id': 'post-died' } });
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.json, {
      error: { code: 'CLEAVE_UPSTREAM_UNAVAILABLE', message: 'no replica of api could answer', requestId: 'post-died' },
    });
    assert.equal(answer.headers['x-request-id'], 'post-died');
    assert.equal((await logged(gateway, 'post-died')).retries, 0);
    assert.equal(survivor.child.exitCode, null, 'the POST was not sent on to kill a second replica');
    assert.equal(survivor.child.signalCode, null);
    assert.equal((await call(gateway.port, '/pid')).status, 200, 'the survivor still answers');
  });
});
