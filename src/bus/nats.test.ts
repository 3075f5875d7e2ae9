// NatsBus against the machine's real NATS: the contract (two connections play two nodes),
// and a NATS that goes away mid-run and comes back.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cutProxyFor } from '../../test/helpers/cut-proxy.ts';
import { connectNats, NATS_URL, testApp } from '../../test/helpers/nats.ts';
import { sleep, until } from '../../test/helpers/wait.ts';
import { NatsConnection } from '../nats/connection.ts';
import { busContract } from './contract.ts';
import { NatsBus } from './nats.ts';

const connections: NatsConnection[] = [];
after(() => Promise.all(connections.map((nats) => nats.stop())));

async function node(options: Parameters<typeof connectNats>[0] = {}): Promise<NatsConnection> {
  const nats = await connectNats(options);
  connections.push(nats);
  return nats;
}

const app = testApp('bus');
busContract('NatsBus', async () => new NatsBus(await node(), { app }), {
  join: async () => new NatsBus(await node(), { app }),
});

describe('NatsBus', { timeout: 20_000 }, () => {
  it('keeps apps sharing one NATS apart', async () => {
    const forum = new NatsBus(await node(), { app: testApp('forum') });
    const shop = new NatsBus(await node(), { app: testApp('shop') });
    const heard: unknown[] = [];
    forum.subscribe('order.placed', (payload) => void heard.push(payload));
    await shop.publish('order.placed', 'for the shop');
    await forum.publish('order.placed', 'for the forum');
    await until(() => (heard.length > 0 ? true : undefined), 2000, 'an event');
    await sleep(100);
    assert.deepEqual(heard, ['for the forum']);
  });

  it('reconnects by itself when NATS is lost, says so once, and events flow again', async () => {
    const { proxy, url } = await cutProxyFor(NATS_URL, 4222);
    const lines: string[] = [];
    const push = (_: object, msg: string) => void lines.push(msg);
    const app = testApp('cut');
    const bus = new NatsBus(await node({ url, log: { error: push, info: push } }), { app });
    const other = new NatsBus(await node(), { app });
    const heard: unknown[] = [];
    bus.subscribe('chat.message', (payload) => void heard.push(payload));
    try {
      // Published until heard: the subscription reaches the server a moment after subscribe().
      await until(
        async () => {
          await other.publish('chat.message', 'before');
          return heard.includes('before') ? true : undefined;
        },
        2000,
        'an event before the cut',
      );
      await proxy.cut();
      await until(() => lines.find((line) => line.startsWith('NATS unreachable')), 5000, 'the outage line');
      await proxy.restore();
      await until(() => lines.find((line) => line === 'NATS reachable again'), 5000, 'the line that it is back');
      // Resubscribed by the client: an event published now arrives, with no restart.
      await until(
        async () => {
          await other.publish('chat.message', 'after');
          return heard.includes('after') ? true : undefined;
        },
        5000,
        'an event after the reconnect',
      );
      assert.equal(lines.filter((line) => line.startsWith('NATS unreachable')).length, 1, lines.join('\n'));
    } finally {
      await proxy.close();
    }
  });

  it('refuses to start in one line, without the password, when NATS is down', async () => {
    const refused = await new NatsConnection({
      url: 'nats://cleave:hunter2@127.0.0.1:1',
      timeoutMs: 1000,
      name: 'test',
    })
      .start()
      .catch((error: unknown) => error);
    assert.equal((refused as { code?: string }).code, 'CLEAVE_NATS_UNAVAILABLE');
    assert.match((refused as Error).message, /^cannot use NATS at nats:\/\/cleave:\*\*\*@127\.0\.0\.1:1: /);
    assert.doesNotMatch((refused as Error).message, /hunter2/);
  });
});
