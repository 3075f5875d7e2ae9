// The Bus contract every adapter passes: memory, IPC (the supervisor's hub), NATS. An adapter
// whose events cross processes also passes the part with other members: `join` returns one
// more bus on the same medium (another replica on the hub, another node on NATS).

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

export interface BusContractOptions {
  /** Another member on the medium of `make`'s bus; the suite stops it. */
  join?: () => Promise<Bus>;
}

export function busContract(name: string, make: () => Promise<Bus>, options: BusContractOptions = {}): void {
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

    it("carries an event's trace context beside its payload, and none when it was sent without", async () => {
      const heard = received<[unknown, unknown]>();
      const off = bus.subscribe('t.traced', (payload, _topic, trace) => heard.push([payload, trace]));
      const trace = {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=value',
      };
      await bus.publish('t.traced', { n: 1 }, trace);
      await bus.publish('t.traced', { n: 2 });
      assert.deepEqual(await heard.next(2), [
        [{ n: 1 }, trace],
        [{ n: 2 }, undefined],
      ]);
      off();
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

    const { join } = options;
    if (join === undefined) return;
    describe('with other members', () => {
      let peer: Bus;
      before(async () => {
        peer = await join();
        await peer.start();
      });
      after(() => peer.stop());

      it("delivers an event from any member to every member's subscribers, once each", async () => {
        const here = received<unknown>();
        const there = received<unknown>();
        const offHere = bus.subscribe('m.all', (payload) => here.push(payload));
        const offThere = peer.subscribe('m.all', (payload) => there.push(payload));
        await settle();
        await peer.publish('m.all', 'from the peer');
        await bus.publish('m.all', 'from here');
        await here.next(2);
        await there.next(2);
        await settle();
        for (const items of [here.items, there.items])
          assert.deepEqual([...items].sort(), ['from here', 'from the peer']);
        offHere();
        offThere();
      });

      // What makes a service's listener run once per event, however many replicas and nodes.
      it('gives a group each event once across its members, spread over them, and broadcast subscribers every event', async () => {
        const here = received<number>();
        const there = received<number>();
        const everyone = received<number>();
        const offs = [
          bus.subscribe('m.group', (payload) => here.push(payload as number), { group: 'posts' }),
          peer.subscribe('m.group', (payload) => there.push(payload as number), { group: 'posts' }),
          peer.subscribe('m.group', (payload) => everyone.push(payload as number)),
        ];
        await settle();
        for (let n = 0; n < 40; n++) await bus.publish('m.group', n);
        await everyone.next(40);
        const deadline = Date.now() + 1000;
        while (here.items.length + there.items.length < 40 && Date.now() < deadline) await settle();
        await settle();
        assert.deepEqual(
          [...here.items, ...there.items].sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, n) => n),
          'each event once in the group',
        );
        assert.ok(
          here.items.length > 0 && there.items.length > 0,
          `spread: ${here.items.length} / ${there.items.length}`,
        );
        for (const off of offs) off();
      });

      it('gives a member that left its group no more events; the others get them all', async () => {
        const here = received<number>();
        const there = received<number>();
        const offHere = bus.subscribe('m.leave', (payload) => here.push(payload as number), { group: 'chat' });
        const offThere = peer.subscribe('m.leave', (payload) => there.push(payload as number), { group: 'chat' });
        await settle();
        offThere();
        await settle();
        for (let n = 0; n < 10; n++) await peer.publish('m.leave', n);
        await here.next(10);
        await settle();
        assert.deepEqual(there.items, []);
        offHere();
      });
    });
  });
}
