// The hub's logic with replicas on in-memory channels: fast and deterministic. The same
// pieces over real processes are in real-channel.test.ts.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { busContract } from '../bus/contract.ts';
import { IpcBus } from '../bus/ipc.ts';
import { CollectionAccessError, InternalError, StoreUnavailableError } from '../errors.ts';
import { IpcLock, serveLock } from '../lock/ipc.ts';
import { MemoryLock } from '../lock/memory.ts';
import { coalesceReads } from '../store/coalesce.ts';
import { IpcStore, serveStore } from '../store/ipc.ts';
import { MemoryStore } from '../store/memory.ts';
import type { StoreBackend } from '../store/types.ts';
import { MemoryChannel } from './fixtures/memory-channel.ts';
import { IpcHub, type HubLog, type IpcHubOptions } from './hub.ts';
import { RpcClient } from './rpc-client.ts';

/** Lets every message in flight arrive and be answered (each hop is one turn). */
async function settle(turns = 10): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await nextTurn();
}

async function until(condition: () => boolean, what: string, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nextTurn();
  }
}

function recordingLog(): HubLog & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    warn: (_f, message) => warnings.push(message),
    error: (_f, message) => errors.push(message),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A hub serving a store (read-coalesced unless `store` is given) and a lock. */
function startHub(options: Partial<Omit<IpcHubOptions, 'serves'>> & { store?: StoreBackend } = {}): IpcHub {
  const { store = coalesceReads(new MemoryStore()), ...rest } = options;
  const hub = new IpcHub({ serves: [serveStore(store), serveLock(new MemoryLock())], ...rest });
  cleanups.push(() => hub.stop());
  return hub;
}

/** One replica: its channel pair, attached to `hub`, and the three adapters over it. */
function replicaOf(hub: IpcHub, name: string) {
  const { replica: channel, hub: hubEnd } = MemoryChannel.pair();
  const detach = hub.attach(name, hubEnd);
  const rpc = new RpcClient(channel, { timeoutMs: 2000 });
  const bus = new IpcBus(channel);
  cleanups.push(async () => {
    await bus.stop();
    rpc.close();
  });
  return { channel, hubEnd, detach, rpc, bus, store: new IpcStore(rpc), lock: new IpcLock(rpc) };
}

// Each suite keeps its hub for all its tests, so these stay out of the per-test cleanups.
const hubForContract = (): IpcHub => new IpcHub({ serves: [] });
busContract('IpcHub.bus, on the supervisor', async () => hubForContract().bus);
const contractHub = hubForContract();
let contractReplicas = 0;
const replicaOnContractHub = async (): Promise<IpcBus> => {
  const { replica, hub } = MemoryChannel.pair();
  contractHub.attach(`replica-${++contractReplicas}`, hub);
  return new IpcBus(replica);
};
busContract('IpcBus through an in-process IpcHub', replicaOnContractHub, { join: replicaOnContractHub });

describe('IpcHub as the event bus', { timeout: 5000 }, () => {
  it('delivers an event from replica A once to each subscriber in A, B and the supervisor, in order', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    const seen = { a1: [] as unknown[], a2: [] as unknown[], b: [] as unknown[], supervisor: [] as unknown[] };
    a.bus.subscribe('post.created', (payload) => void seen.a1.push(payload));
    a.bus.subscribe('post.created', (payload) => void seen.a2.push(payload));
    b.bus.subscribe('post.created', (payload) => void seen.b.push(payload));
    hub.bus.subscribe('post.created', (payload) => void seen.supervisor.push(payload));
    await settle();
    for (const n of [1, 2, 3]) await a.bus.publish('post.created', { n });
    await until(() => Object.values(seen).every((items) => items.length >= 3), 'three deliveries each');
    await settle();
    const expected = [{ n: 1 }, { n: 2 }, { n: 3 }];
    assert.deepEqual(seen, { a1: expected, a2: expected, b: expected, supervisor: expected });
    // One message per event per channel, however many handlers a replica has.
    assert.equal(a.hubEnd.count('event'), 3);
    assert.equal(b.hubEnd.count('event'), 3);
  });

  it('gives every replica the same order when several publish at once', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    const orderIn = { a: [] as unknown[], b: [] as unknown[] };
    a.bus.subscribe('tick', (payload) => void orderIn.a.push(payload));
    b.bus.subscribe('tick', (payload) => void orderIn.b.push(payload));
    await settle();
    await Promise.all([1, 2, 3, 4, 5].flatMap((n) => [a.bus.publish('tick', `a${n}`), b.bus.publish('tick', `b${n}`)]));
    await until(() => orderIn.a.length === 10 && orderIn.b.length === 10, 'ten deliveries each');
    assert.deepEqual(orderIn.a, orderIn.b);
  });

  it('gives a group subscription each event once, to its members in turn, next to the broadcast ones', async () => {
    const hub = startHub();
    const posts1 = replicaOf(hub, 'posts#1');
    const posts2 = replicaOf(hub, 'posts#2');
    const chat = replicaOf(hub, 'chat#1');
    const heard = { posts1: [] as unknown[], posts2: [] as unknown[], chat: [] as unknown[], sockets1: 0 };
    posts1.bus.subscribe('user.created', (payload) => void heard.posts1.push(payload), { group: 'posts' });
    posts2.bus.subscribe('user.created', (payload) => void heard.posts2.push(payload), { group: 'posts' });
    chat.bus.subscribe('user.created', (payload) => void heard.chat.push(payload), { group: 'chat' });
    // A broadcast handler in a grouped replica still hears every event, and only once.
    posts1.bus.subscribe('user.created', () => void (heard.sockets1 += 1));
    await settle();
    for (let n = 0; n < 6; n++) await chat.bus.publish('user.created', n);
    await until(() => heard.posts1.length + heard.posts2.length === 6 && heard.chat.length === 6, 'deliveries');
    await settle();
    assert.deepEqual([...heard.posts1, ...heard.posts2].sort(), [0, 1, 2, 3, 4, 5], 'each event once in posts');
    assert.deepEqual([heard.posts1.length, heard.posts2.length], [3, 3], 'in turn');
    assert.equal(heard.sockets1, 6);
    // A member that leaves takes no more turns.
    posts2.detach();
    for (let n = 6; n < 10; n++) await chat.bus.publish('user.created', n);
    await until(() => heard.posts1.length === 7, 'the remaining member hears every event');
  });

  it('loses no event of a group when a member leaves while events are on their way to it', async () => {
    const hub = startHub();
    const stays = replicaOf(hub, 'posts#1');
    const leaves = replicaOf(hub, 'posts#2');
    const chat = replicaOf(hub, 'chat#1');
    const heard: number[] = [];
    stays.bus.subscribe('user.created', (payload) => void heard.push(payload as number), { group: 'posts' });
    const off = leaves.bus.subscribe(
      'user.created',
      (payload) => {
        heard.push(payload as number);
        off(); // leaves after its first event; the hub has sent it more meanwhile
      },
      { group: 'posts' },
    );
    await settle();
    await Promise.all(Array.from({ length: 20 }, (_, n) => chat.bus.publish('user.created', n)));
    await until(() => heard.length >= 20, 'every event heard');
    await settle();
    assert.deepEqual(
      [...heard].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, n) => n),
      'each event once',
    );
  });

  it('never sends a replica events of topics it does not subscribe to', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    const received: unknown[] = [];
    b.bus.subscribe('wanted', (payload) => void received.push(payload));
    await settle();
    for (let n = 0; n < 5; n++) await a.bus.publish('unwanted', n);
    await a.bus.publish('wanted', 'yes');
    await hub.bus.publish('unwanted', 'from the supervisor');
    await settle();
    assert.deepEqual(received, ['yes']);
    assert.equal(b.hubEnd.count('event'), 1);
    assert.equal(a.hubEnd.count('event'), 0, 'A subscribes to nothing, so it hears nothing');
  });

  it('subscribes a topic at the hub for its first handler only, and unsubscribes with the last', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const first = (): void => {};
    const second = (): void => {};
    a.bus.subscribe('t', first);
    const offSecond = a.bus.subscribe('t', second);
    assert.equal(a.channel.count('subscribe'), 1);
    a.bus.unsubscribe('t', first);
    assert.equal(a.channel.count('unsubscribe'), 0);
    offSecond();
    assert.equal(a.channel.count('unsubscribe'), 1);
    await a.bus.publish('t', 'after');
    await settle();
    assert.equal(a.hubEnd.count('event'), 0);
  });

  it('keeps a topic for a channel while any of the buses sharing it subscribes', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const second = new IpcBus(a.channel);
    const received: unknown[] = [];
    a.bus.subscribe('t', (payload) => void received.push(payload));
    const off = second.subscribe('t', () => {});
    off();
    await settle();
    await a.bus.publish('t', 'still wanted');
    await until(() => received.length === 1, 'one delivery');
    await second.stop();
  });

  it('drops the subscriptions of a replica that detaches or whose channel closes', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    const c = replicaOf(hub, 'c');
    b.bus.subscribe('t', () => {});
    c.bus.subscribe('t', () => {});
    await settle();
    let sendsToC = 0;
    const sendToC = c.hubEnd.send.bind(c.hubEnd);
    c.hubEnd.send = (message, onWritten) => {
      sendsToC++;
      sendToC(message, onWritten);
    };
    b.detach();
    c.channel.close();
    await settle();
    await a.bus.publish('t', 'nobody left');
    await settle();
    assert.equal(b.hubEnd.count('event'), 0);
    assert.equal(sendsToC, 0);
  });

  it('ignores messages without the cleave marker, or with another protocol version', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const received: unknown[] = [];
    hub.bus.subscribe('t', (payload) => void received.push(payload));
    a.channel.sendRaw({ type: 'publish', topic: 't', payload: 'no marker' });
    a.channel.sendRaw({ cleave: 2, type: 'publish', topic: 't', payload: 'other version' });
    a.channel.sendRaw('hello from user code');
    a.channel.sendRaw(null);
    await settle();
    assert.deepEqual(received, []);
    assert.equal(a.hubEnd.sent.length, 0);
  });

  it('warns once when a replica stops keeping up, and again only after it caught up', async () => {
    const log = recordingLog();
    const hub = startHub({ log, backlogWarning: 4 });
    const a = replicaOf(hub, 'a');
    const slow = replicaOf(hub, 'slow');
    slow.bus.subscribe('t', () => {});
    await settle();
    slow.hubEnd.hold();
    for (let n = 0; n < 10; n++) await a.bus.publish('t', n);
    await settle();
    assert.equal(slow.hubEnd.backlog, 10, 'nothing is dropped');
    assert.equal(log.warnings.length, 1);
    slow.hubEnd.release();
    await settle();
    assert.equal(slow.hubEnd.backlog, 0);
    slow.hubEnd.hold();
    for (let n = 0; n < 4; n++) await a.bus.publish('t', n);
    await settle();
    assert.equal(log.warnings.length, 2);
    slow.hubEnd.release();
  });
});

describe('IpcHub as the store and lock owner', { timeout: 5000 }, () => {
  it('lets a replica reach only its own service’s collections, the supervisor’s channels any', async () => {
    const hub = startHub();
    const posts = replicaOf(hub, 'posts#1');
    const tool = replicaOf(hub, 'supervisor-tool');
    await posts.store.put('posts/items', 'p1', 'mine');
    await assert.rejects(posts.store.get('users/accounts', 'ana'), CollectionAccessError);
    await assert.rejects(posts.store.put('users/accounts', 'ana', 'x'), CollectionAccessError);
    await assert.rejects(posts.store.list('users/accounts'), CollectionAccessError);
    await assert.rejects(posts.store.delete('users/accounts', 'ana'), CollectionAccessError);
    assert.equal((await tool.store.get('posts/items', 'p1'))?.value, 'mine');
    assert.equal(await tool.store.get('users/accounts', 'ana'), undefined);
  });

  it('answers a method no port serves with InternalError, and refuses two handlers for one method', async () => {
    const a = replicaOf(startHub(), 'a');
    await assert.rejects(a.rpc.call('task.job', 'j1'), (error: unknown) => {
      assert.ok(error instanceof InternalError);
      assert.match(error.message, /serves no IPC method task\.job/);
      return true;
    });
    // The hub is still serving what it has.
    assert.equal(await a.lock.tryAcquire('n', 1000), true);
    assert.throws(
      () => new IpcHub({ serves: [serveLock(new MemoryLock()), serveLock(new MemoryLock())] }),
      /two handlers for the IPC method lock\.tryAcquire/,
    );
  });

  it('lets replica B read what replica A wrote, at once', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    await a.store.put('posts', 'p1', { title: 'hello' });
    assert.deepEqual(await b.store.get('posts', 'p1'), { key: 'p1', value: { title: 'hello' }, version: 1 });
    await b.store.put('posts', 'p1', { title: 'edited' }, { ifVersion: 1 });
    assert.deepEqual(
      (await a.store.list('posts')).map((record) => record.value),
      [{ title: 'edited' }],
    );
  });

  it('sends identical reads from A and B that overlap to the backend once', async () => {
    let backendGets = 0;
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const backend: StoreBackend = new MemoryStore();
    const read = backend.get.bind(backend);
    backend.get = async (collection, key) => {
      backendGets++;
      await gate;
      return read(collection, key);
    };
    await backend.put('posts', 'hot', 'value');
    const hub = startHub({ store: coalesceReads(backend) });
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    const reads = [a.store.get('posts', 'hot'), b.store.get('posts', 'hot')];
    await until(() => a.hubEnd.received === 1 && b.hubEnd.received === 1, 'both reads at the hub');
    openGate();
    const [fromA, fromB] = await Promise.all(reads);
    assert.equal(backendGets, 1);
    assert.deepEqual(fromA, { key: 'hot', value: 'value', version: 1 });
    assert.deepEqual(fromB, fromA);
  });

  it('refuses a lease held by A to B, also after A detaches, until A releases it', async () => {
    const hub = startHub();
    const a = replicaOf(hub, 'a');
    const b = replicaOf(hub, 'b');
    assert.equal(await a.lock.tryAcquire('cron:report:1000', 10_000), true);
    assert.equal(await b.lock.tryAcquire('cron:report:1000', 10_000), false);
    // Leases outlive a replica: a late replica must still find a finished tick taken.
    a.detach();
    assert.equal(await b.lock.tryAcquire('cron:report:1000', 10_000), false);
    await b.lock.release('cron:report:1000');
    assert.equal(await b.lock.tryAcquire('cron:report:1000', 10_000), true);
  });

  it('answers a foreign backend error with InternalError and logs what it hid', async () => {
    const log = recordingLog();
    const backend = new MemoryStore();
    backend.get = () => Promise.reject(new Error('disk on fire'));
    const a = replicaOf(startHub({ store: backend, log }), 'a');
    await assert.rejects(a.store.get('posts', 'p1'), (error: unknown) => {
      assert.ok(error instanceof InternalError);
      assert.doesNotMatch(error.message, /disk/);
      return true;
    });
    assert.deepEqual(log.errors, ['IPC call failed']);
  });

  it('fails a call waiting on the hub as soon as the channel closes', async () => {
    const backend = new MemoryStore();
    backend.get = () => new Promise(() => {});
    const a = replicaOf(startHub({ store: backend }), 'a');
    const pending = a.store.get('posts', 'p1');
    await until(() => a.hubEnd.received === 1, 'the read at the hub');
    const closedAt = performance.now();
    a.channel.close();
    await assert.rejects(pending, StoreUnavailableError);
    assert.ok(performance.now() - closedAt < 100, 'rejected long before the 2 s timeout');
  });
});
