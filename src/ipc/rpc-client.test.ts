import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InternalError, ShuttingDownError, StoreConflictError, StoreUnavailableError } from '../errors.ts';
import { toWire } from '../shared/error-wire.ts';
import type { IpcChannel } from './channel.ts';
import { MemoryChannel } from './fixtures/memory-channel.ts';
import { isIpcMessage, PROTOCOL_VERSION, type RpcRequest } from './messages.ts';
import { RpcClient } from './rpc-client.ts';

/** The hub end of a pair, played by the test: every request it has received. */
function fakeHub(hubEnd: MemoryChannel): RpcRequest[] {
  const requests: RpcRequest[] = [];
  hubEnd.onMessage((message) => {
    if (isIpcMessage(message) && message.type === 'request') requests.push(message);
  });
  return requests;
}

function answer(hubEnd: MemoryChannel, id: number, value: unknown): void {
  hubEnd.send({ cleave: PROTOCOL_VERSION, type: 'response', id, ok: true, value });
}

async function firstRequest(requests: RpcRequest[], count = 1): Promise<RpcRequest> {
  while (requests.length < count) await nextTurn();
  return requests[count - 1]!;
}

/** `channel`, counting the listeners registered on it and not yet removed. */
function listenersOn(channel: IpcChannel): { channel: IpcChannel; count(): number } {
  let count = 0;
  const counted =
    <L>(on: (listener: L) => () => void) =>
    (listener: L) => {
      const off = on(listener);
      count++;
      return () => {
        count--;
        off();
      };
    };
  return {
    channel: {
      send: (message, onWritten) => channel.send(message, onWritten),
      onMessage: counted((listener) => channel.onMessage(listener)),
      onClose: counted((listener) => channel.onClose(listener)),
      get closed() {
        return channel.closed;
      },
      get backlog() {
        return channel.backlog;
      },
    },
    count: () => count,
  };
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

describe('RpcClient', { timeout: 5000 }, () => {
  it('resolves a call with the answer carrying its id, ignoring anything else', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const rpc = new RpcClient(replica);
    const call = rpc.call('store.get', 'posts', 'p1');
    const request = await firstRequest(requests);
    assert.deepEqual([request.method, request.args], ['store.get', ['posts', 'p1']]);
    hub.sendRaw({ type: 'response', id: request.id, ok: true, value: 'no marker' });
    answer(hub, request.id + 1000, 'another id');
    answer(hub, request.id, { key: 'p1', value: 'right', version: 1 });
    assert.deepEqual(await call, { key: 'p1', value: 'right', version: 1 });
    rpc.close();
  });

  it('rebuilds an error answer as the same class', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const rpc = new RpcClient(replica);
    const call = rpc.call('store.put', 'docs', 'a', 'stale', { ifVersion: 1 });
    const { id } = await firstRequest(requests);
    const error = toWire(new StoreConflictError('docs', 'a', 1, 2));
    hub.send({ cleave: PROTOCOL_VERSION, type: 'response', id, ok: false, error });
    await assert.rejects(call, (rejection: unknown) => {
      assert.ok(rejection instanceof StoreConflictError);
      assert.deepEqual(rejection.details, { collection: 'docs', key: 'a', expected: 1, actual: 2 });
      return true;
    });
    rpc.close();
  });

  it('fails an unanswered call with StoreUnavailableError at its timeout, leaving no timer', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const timersBefore = activeTimers();
    const rpc = new RpcClient(replica, { timeoutMs: 50 });
    const startedAt = performance.now();
    await assert.rejects(rpc.call('lock.tryAcquire', 'job', 1000), StoreUnavailableError);
    assert.ok(performance.now() - startedAt >= 45);
    // A late answer finds nobody waiting and changes nothing.
    const received = replica.received;
    answer(hub, (await firstRequest(requests)).id, true);
    while (replica.received === received) await nextTurn();
    assert.equal(rpc.pending, 0);
    assert.equal(activeTimers(), timersBefore);
    rpc.close();
  });

  it('clears the timer of every answered call', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const timersBefore = activeTimers();
    const rpc = new RpcClient(replica);
    const calls = Array.from({ length: 20 }, (_, n) => rpc.call('store.get', 'c', `k${n}`));
    await firstRequest(requests, 20);
    for (const request of requests) answer(hub, request.id, undefined);
    await Promise.all(calls);
    assert.equal(activeTimers(), timersBefore);
    rpc.close();
  });

  it('fails waiting and later calls with StoreUnavailableError once the channel closes', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const rpc = new RpcClient(replica, { timeoutMs: 10_000 });
    const call = rpc.call('store.list', 'c', {});
    await firstRequest(requests);
    hub.close();
    await assert.rejects(call, StoreUnavailableError);
    await assert.rejects(rpc.call('store.get', 'c', 'k'), StoreUnavailableError);
    assert.equal(rpc.pending, 0);
  });

  it('fails waiting and later calls with ShuttingDownError after close(), and stops listening', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const listening = listenersOn(replica);
    const rpc = new RpcClient(listening.channel);
    assert.equal(listening.count(), 2, 'messages and close');
    const call = rpc.call('lock.release', 'job');
    await firstRequest(requests);
    rpc.close();
    await assert.rejects(call, ShuttingDownError);
    await assert.rejects(rpc.call('lock.release', 'job'), ShuttingDownError);
    assert.equal(listening.count(), 0);
  });

  it('refuses a call beyond maxPending at once, with a retryable error', async () => {
    const { replica } = MemoryChannel.pair();
    const rpc = new RpcClient(replica, { maxPending: 2 });
    const waiting = [rpc.call('store.get', 'c', 'a'), rpc.call('store.get', 'c', 'b')];
    await assert.rejects(rpc.call('store.get', 'c', 'c'), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError && error.retryable);
      return true;
    });
    rpc.close();
    await Promise.allSettled(waiting);
  });

  it('rejects arguments that cannot cross the channel with InternalError, sending nothing', async () => {
    const { replica } = MemoryChannel.pair();
    const rpc = new RpcClient(replica);
    await assert.rejects(rpc.call('store.put', 'c', 'k', { fn: () => 1 }, {}), InternalError);
    assert.equal(replica.sent.length, 0);
    assert.equal(rpc.pending, 0);
    rpc.close();
  });

  it('keeps the answers of two clients sharing a channel apart', async () => {
    const { replica, hub } = MemoryChannel.pair();
    const requests = fakeHub(hub);
    const first = new RpcClient(replica);
    const second = new RpcClient(replica);
    const calls = [first.call('lock.tryAcquire', 'x', 100), second.call('lock.tryAcquire', 'x', 100)];
    await firstRequest(requests, 2);
    answer(hub, requests[0]!.id, 'first');
    answer(hub, requests[1]!.id, 'second');
    assert.deepEqual(await Promise.all(calls), ['first', 'second']);
    first.close();
    second.close();
  });
});
