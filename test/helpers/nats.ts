// Connections to the machine's real NATS (CI starts it, with JetStream). Each test names an
// app of its own, so tests running at once never hear each other's events.

import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsConnection, type NatsConnectionOptions } from '../../src/nats/connection.ts';
import { isNotFound } from '../../src/nats/jetstream.ts';
import { resourceName } from '../../src/nats/subjects.ts';

/** The server tests use; CLEAVE_TEST_NATS_URL points them elsewhere. */
export const NATS_URL = process.env.CLEAVE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** An app name no other test uses: nodes made with the same one share its subjects. */
export function testApp(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

export async function connectNats(options: Partial<NatsConnectionOptions> = {}): Promise<NatsConnection> {
  const nats = new NatsConnection({ url: NATS_URL, timeoutMs: 2000, name: 'cleave test', ...options });
  await nats.start();
  return nats;
}

/**
 * Deletes what an app's tasks left in JetStream (its streams and jobs bucket), so a test of
 * an app with a fixed name starts from an empty queue whatever an earlier run left.
 */
export async function forgetTasks(app: string): Promise<void> {
  const nats = await connectNats();
  try {
    const manager = await jetstreamManager(nats.client);
    for (const stream of [
      resourceName(app, 'tasks'),
      resourceName(app, 'dead_tasks'),
      `KV_${resourceName(app, 'jobs')}`,
    ]) {
      await manager.streams.delete(stream).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    }
  } finally {
    await nats.stop();
  }
}
