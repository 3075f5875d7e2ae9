// The Bus contract every adapter passes (memory today; IPC and NATS later).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bus } from './types.ts';

function received<T>(): { items: T[]; next(count: number, timeoutMs?: number): Promise<T[]>; push(item: T): void } {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  return {
    items,
    push(item) {
      items.push(item);
      wake?.();
    },
    async next(count, timeoutMs = 1000) {
      const deadline = Date.now() + timeoutMs;
      while (items.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} deliveries, got ${items.length}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 10);
        });
      }
      return items;
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

export function busContract(name: string, make: () => Promise<Bus>): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    before(async () => {
      bus = await make();
      await bus.start();
    });
    after(() => bus.stop());

    it('delivers a payload to every subscriber of the topic, and only that topic', async () => {
      const a = received<unknown>();
      const b = received<unknown>();
      const other = received<unknown>();
      const offA = bus.subscribe('t.one', (payload) => a.push(payload));
      const offB = bus.subscribe('t.one', (payload) => b.push(payload));
      const offOther = bus.subscribe('t.two', (payload) => other.push(payload));
      await bus.publish('t.one', { n: 1 });
      assert.deepEqual(await a.next(1), [{ n: 1 }]);
      assert.deepEqual(await b.next(1), [{ n: 1 }]);
      await settle();
      assert.deepEqual(other.items, []);
      offA();
      offB();
      offOther();
    });

    it('stops delivering after unsubscribe, by function or by handler', async () => {
      const a = received<unknown>();
      const handler = (payload: unknown) => a.push(payload);
      const off = bus.subscribe('t.off', handler);
      await bus.publish('t.off', 1);
      await a.next(1);
      off();
      await bus.publish('t.off', 2);
      bus.subscribe('t.off', handler);
      bus.unsubscribe('t.off', handler);
      await bus.publish('t.off', 3);
      await settle();
      assert.deepEqual(a.items, [1]);
    });

    it('gives each listener its own copy of the payload', async () => {
      const seen = received<{ n: number }>();
      bus.subscribe('t.copy', (payload) => {
        (payload as { n: number }).n = 99;
      });
      bus.subscribe('t.copy', (payload) => seen.push(payload as { n: number }));
      const payload = { n: 1 };
      await bus.publish('t.copy', payload);
      await seen.next(1);
      await settle();
      assert.equal(payload.n, 1, "the emitter's object is untouched");
      assert.equal(seen.items[0]?.n, 1, "another listener's change is not visible");
    });

    it('keeps delivering when a listener throws or rejects', async () => {
      const ok = received<unknown>();
      bus.subscribe('t.fail', () => {
        throw new Error('sync failure');
      });
      bus.subscribe('t.fail', () => Promise.reject(new Error('async failure')));
      bus.subscribe('t.fail', (payload) => ok.push(payload));
      await bus.publish('t.fail', 'still here');
      assert.deepEqual(await ok.next(1), ['still here']);
    });

    it('publishes to a topic nobody listens to without error', async () => {
      await bus.publish('t.nobody', { ignored: true });
    });
  });
}
