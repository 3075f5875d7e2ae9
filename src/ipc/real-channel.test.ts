// The adapters over real fork() channels: the hub runs in a child (fixtures/hub-process.ts)
// and this process plays the replica through channelOfChild. The shared contract suites run
// unchanged, under both of Node's IPC serialisations.

import assert from 'node:assert/strict';
import { fork, spawnSync, type ChildProcess, type SerializationType } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { busContract } from '../bus/contract.ts';
import { IpcBus } from '../bus/ipc.ts';
import { ShuttingDownError, StoreUnavailableError } from '../errors.ts';
import { lockContract } from '../lock/contract.ts';
import { IpcLock } from '../lock/ipc.ts';
import { rateCountersContract } from '../ratelimit/contract.ts';
import { IpcRateCounters } from '../ratelimit/ipc.ts';
import { storeContract } from '../store/contract.ts';
import { IpcStore } from '../store/ipc.ts';
import { channelOfChild, type IpcChannel } from './channel.ts';
import { RpcClient } from './rpc-client.ts';

const HUB_PROCESS = fileURLToPath(new URL('./fixtures/hub-process.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface HubProcess {
  child: ChildProcess;
  channel: IpcChannel;
  /** A fresh hub, store and lock in the child. */
  reset(options?: { stallReads?: boolean }): Promise<void>;
}

const children = new Set<ChildProcess>();
after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

/** Resolves when the child sends { fixture: name }; rejects if it exits or stays silent. */
function fixtureMessage(child: ChildProcess, name: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { fixture?: string }): void => {
      if (message?.fixture === name) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`hub process exited (${code}) before "${name}"`));
    const timer = setTimeout(() => finish(new Error(`no "${name}" from the hub process`)), timeoutMs);
    function finish(error?: Error): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function forkHub(serialization: SerializationType = 'advanced'): Promise<HubProcess> {
  const child = fork(HUB_PROCESS, [], {
    cwd: PROJECT_ROOT,
    execArgv: ['--import', 'tsx'],
    serialization,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  await fixtureMessage(child, 'ready');
  return {
    child,
    channel: channelOfChild(child),
    async reset(options = {}) {
      const ready = fixtureMessage(child, 'ready');
      child.send({ fixture: 'reset', ...options });
      await ready;
    },
  };
}

/** One hub process per suite, forked on first use. */
function lazyHub(serialization: SerializationType): () => Promise<HubProcess & { rpc: RpcClient }> {
  let hub: Promise<HubProcess & { rpc: RpcClient }> | undefined;
  return () => (hub ??= forkHub(serialization).then((forked) => ({ ...forked, rpc: new RpcClient(forked.channel) })));
}

for (const serialization of ['advanced', 'json'] as const) {
  const storeHub = lazyHub(serialization);
  storeContract(`IpcStore over a real IPC channel (${serialization})`, async () => {
    const hub = await storeHub();
    await hub.reset();
    return new IpcStore(hub.rpc);
  });

  const lockHub = lazyHub(serialization);
  lockContract(`IpcLock over a real IPC channel (${serialization})`, async () => {
    const hub = await lockHub();
    await hub.reset();
    return new IpcLock(hub.rpc);
  });

  const rateHub = lazyHub(serialization);
  rateCountersContract(`IpcRateCounters over a real IPC channel (${serialization})`, async () => {
    const hub = await rateHub();
    await hub.reset();
    return new IpcRateCounters(hub.rpc);
  });

  const busHub = lazyHub(serialization);
  busContract(`IpcBus over a real IPC channel (${serialization})`, async () => new IpcBus((await busHub()).channel));
}

describe('split mode over a real IPC channel', { timeout: 15_000 }, () => {
  it('fails a pending call at once, not at its timeout, when the hub process dies', async () => {
    const hub = await forkHub();
    await hub.reset({ stallReads: true });
    const store = new IpcStore(new RpcClient(hub.channel, { timeoutMs: 30_000 }));
    const stalled = fixtureMessage(hub.child, 'get-stalled');
    const pending = store.get('posts', 'p1');
    await stalled;
    const killedAt = performance.now();
    hub.child.kill('SIGKILL');
    await assert.rejects(pending, StoreUnavailableError);
    const elapsed = performance.now() - killedAt;
    assert.ok(elapsed < 2000, `rejected after ${elapsed} ms`);
    await assert.rejects(store.put('posts', 'p1', 'later'), StoreUnavailableError);
  });

  it("reports a send on a dead child's channel as ShuttingDownError, without an 'error' event", async () => {
    const hub = await forkHub();
    let closed = false;
    hub.channel.onClose(() => (closed = true));
    const exited = once(hub.child, 'exit');
    hub.child.kill('SIGKILL');
    await exited;
    assert.equal(hub.channel.closed, true);
    const written = new Promise<unknown>((resolve) =>
      hub.channel.send({ cleave: 1, type: 'subscribe', topic: 't' }, resolve),
    );
    assert.ok((await written) instanceof ShuttingDownError);
    await assert.rejects(new IpcBus(hub.channel).publish('t', 1), ShuttingDownError);
    assert.equal(closed, true);
    assert.equal(hub.channel.backlog, 0);
  });

  it("keeps a payload's structured-clone types with serialization 'advanced'", async () => {
    const hub = await forkHub('advanced');
    const bus = new IpcBus(hub.channel);
    const payload = { at: new Date(0), tags: new Set(['a']), counts: new Map([['x', 1n]]), missing: undefined };
    const received = new Promise<unknown>((resolve) => bus.subscribe('typed', resolve));
    await bus.publish('typed', payload);
    assert.deepEqual(await received, payload);
    await bus.stop();
  });

  it('refuses to make a replica channel in a process that was not forked', () => {
    const script = `import { channelOfProcess } from './src/ipc/channel.ts';
      try { channelOfProcess(); } catch (error) { console.log(error.code); }`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.stdout.trim(), 'CLEAVE_INTERNAL');
  });
});
