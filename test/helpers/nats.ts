// Connections to the machine's real NATS (CI starts it, with JetStream). Each test names an
// app of its own, so tests running at once never hear each other's events.

import { randomUUID } from 'node:crypto';
import { NatsConnection, type NatsConnectionOptions } from '../../src/nats/connection.ts';

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
