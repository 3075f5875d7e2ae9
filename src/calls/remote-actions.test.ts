// RemoteActions against a real CallServer on a unix socket, with the supervisor's side of the
// IPC channel played by the test: replica sets, a first replica arriving late, a pool emptied.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { until } from '../../test/helpers/wait.ts';
import { defineApp } from '../app/app.ts';
import type { ServiceContext } from '../app/context.ts';
import { defineService } from '../app/service.ts';
import { CallTimeoutError, UpstreamUnavailableError } from '../errors.ts';
import { MemoryChannel } from '../ipc/fixtures/memory-channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import { ActionCaller } from './action-caller.ts';
import { CallServer, callSocketOf } from './call-server.ts';
import { RemoteActions } from './remote-actions.ts';
import type { RemoteCaller } from './action-caller.ts';
import { NatsCaller } from './nats-caller.ts';
import { NatsResponder } from './nats-responder.ts';
import { connectNats, testApp } from '../../test/helpers/nats.ts';

const log = pino({ level: 'silent' });
const users = defineService('users');
const ping = users.action('ping', { idempotent: true }, (input: unknown) => ({ pong: input }));
/** Which node ran it: the `node` its context's logger is bound to. */
const where = users.action('where', { idempotent: true }, (_input: unknown, ctx) => ctx.log.bindings().node as string);
const app = defineApp({ name: testApp('remote-unit'), services: [users] });

describe('RemoteActions', () => {
  let dir: string;
  let socketPath: string;
  let server: CallServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-remote-'));
    socketPath = join(dir, 'users-1.sock');
    const context = { service: 'users', log: log.child({ node: 'here' }) } as unknown as ServiceContext;
    const caller = new ActionCaller({ app, local: new Set(['users']), contextFor: () => context, log });
    server = new CallServer(caller, new Set(['users']), log);
    await server.listen(callSocketOf(socketPath));
  });
  after(async () => {
    await server.stop(100);
    await rm(dir, { recursive: true, force: true });
  });

  /** A replica's RemoteActions, and the supervisor's end of its channel (answers watch-replicas with nothing). */
  function remoteWithSupervisor(elsewhere?: RemoteCaller) {
    const { replica, hub } = MemoryChannel.pair();
    hub.onMessage((message) => {
      if (isIpcMessage(message) && message.type === 'watch-replicas') {
        hub.send({ cleave: PROTOCOL_VERSION, type: 'replicas', replicas: [] });
      }
    });
    const remote = new RemoteActions({
      channel: replica,
      log,
      healthProbes: { intervalMs: 60_000, timeoutMs: 1000 },
      ...(elsewhere ? { elsewhere } : {}),
    });
    const up = () =>
      hub.send({ cleave: PROTOCOL_VERSION, type: 'replica-up', service: 'users', id: 'users#1', address: socketPath });
    const down = () => hub.send({ cleave: PROTOCOL_VERSION, type: 'replica-down', service: 'users', id: 'users#1' });
    return { remote, up, down, replica };
  }

  const meta = (ms: number) => ({ requestId: 'r1', deadline: Date.now() + ms });

  it('waits for the first replica of a pool that is still starting, within the deadline', async () => {
    const { remote, up } = remoteWithSupervisor();
    const answer = remote.call(ping, 'hello', meta(2000), 2000);
    // The replica is ready a while after the call was made: the call must wait for it.
    setTimeout(up, 100);
    assert.deepEqual(await answer, { pong: 'hello' });
    await remote.stop();
  });

  it('fails at the deadline when no replica comes', async () => {
    const { remote } = remoteWithSupervisor();
    const started = Date.now();
    await assert.rejects(remote.call(ping, 'x', meta(150), 150), CallTimeoutError);
    assert.ok(Date.now() - started < 1000);
    await remote.stop();
  });

  it('fails at once when a pool that had replicas has none left', async () => {
    const { remote, up, down, replica } = remoteWithSupervisor();
    up();
    assert.deepEqual(await remote.call(ping, 1, meta(2000), 2000), { pong: 1 });
    const received = replica.received;
    down();
    await until(() => (replica.received > received ? true : undefined), 2000, 'the replica-down message arrived', 5);
    const started = Date.now();
    await assert.rejects(remote.call(ping, 2, meta(2000), 2000), UpstreamUnavailableError);
    assert.ok(Date.now() - started < 500);
    await remote.stop();
  });

  it('calls another node over NATS while this node has no replica of the service, and its own once it has', async () => {
    const [here, there] = await Promise.all([connectNats(), connectNats()]);
    const context = { service: 'users', log: log.child({ node: 'elsewhere' }) } as unknown as ServiceContext;
    const local = new Set(['users']);
    const responder = new NatsResponder(there, {
      app: app.name,
      caller: new ActionCaller({ app, local, contextFor: () => context, log }),
      local,
      log,
    });
    responder.start(app.services);
    const { remote, up, down, replica } = remoteWithSupervisor(new NatsCaller(here, { app: app.name }));
    try {
      assert.equal(await remote.call(where, undefined, meta(2000), 2000), 'elsewhere', 'no replica here yet');
      up();
      await until(() => (replica.received > 1 ? true : undefined), 2000, 'the replica-up message arrived', 5);
      assert.equal(await remote.call(where, undefined, meta(2000), 2000), 'here', 'its own replica first');
      down();
      await until(() => (replica.received > 2 ? true : undefined), 2000, 'the replica-down message arrived', 5);
      assert.equal(await remote.call(where, undefined, meta(2000), 2000), 'elsewhere', 'none left here');
    } finally {
      await remote.stop();
      await responder.stop(100);
      await Promise.all([here.stop(), there.stop()]);
    }
  });
});
