// The nodes of an app that share a NATS: each supervisor publishes a heartbeat with what it
// runs on `cleave.<app>.nodes` every second and hears everyone else's. A node that misses
// three heartbeats leaves the list; one that stops says so and leaves it at once. Nothing is
// stored anywhere: the list is what was heard lately, so it needs no cleanup after a crash.

import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NatsConnection } from '../nats/connection.ts';
import { nodesSubject } from '../nats/subjects.ts';
import type { NodeInfo, NodeStatus } from './node.ts';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';

export interface NatsDirectoryOptions {
  app: string;
  /**
   * What this node says about itself, asked at each heartbeat. Without it the directory only
   * listens (a gateway learning where the other nodes' services are).
   */
  self?: () => NodeInfo;
  log: Logger;
  /** @default 1000 */
  heartbeatMs?: number;
  /** Heartbeats a node may miss before it leaves the list. @default 3 */
  missedBeats?: number;
  /** Hears that another node said something new (what it runs changed) or left. */
  onChange?: () => void;
}

type Message = { beat: NodeInfo } | { leaving: string };

interface Heard {
  info: NodeInfo;
  at: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsDirectory {
  readonly #nats: NatsConnection;
  readonly #options: NatsDirectoryOptions;
  readonly #heard = new Map<string, Heard>();
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #selfId: string | undefined;
  /** Said it leaves: no heartbeat after that, or the others would take it back while it stops. */
  #stopped = false;

  /** `nats` is started and stopped by whoever made it. */
  constructor(nats: NatsConnection, options: NatsDirectoryOptions) {
    this.#nats = nats;
    this.#options = options;
  }

  start(): void {
    this.#subscription = this.#nats.client.subscribe(nodesSubject(this.#options.app), {
      callback: (error, message) => {
        if (error === null) this.#hear(message.data);
      },
    });
    this.#beat();
    this.#timer = setInterval(() => this.#beat(), this.#options.heartbeatMs ?? 1000);
    this.#timer.unref();
  }

  /** Every live node, this one first (when it says what it is), then by id. */
  nodes(): NodeStatus[] {
    const self = this.#options.self?.();
    const now = Date.now();
    const oldest = now - (this.#options.heartbeatMs ?? 1000) * ((this.#options.missedBeats ?? 3) + 0.5);
    const others = [...this.#heard.values()]
      .filter((heard) => heard.info.id !== self?.id && heard.at >= oldest)
      .sort((a, b) => a.info.id.localeCompare(b.info.id))
      .map((heard) => ({ ...heard.info, lastSeen: new Date(heard.at).toISOString(), self: false }));
    return self ? [{ ...self, lastSeen: new Date(now).toISOString(), self: true }, ...others] : others;
  }

  /** Tells the others this node leaves, and stops hearing them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#selfId !== undefined) this.#publish({ leaving: this.#selfId });
    await this.#subscription?.drain().catch(() => {});
    this.#heard.clear();
  }

  /**
   * Says what this node runs now, not at the next heartbeat: a pool that lost its last
   * replica, or got one back, is heard by the other nodes' gateways at once.
   */
  announce(): void {
    if (this.#subscription && !this.#stopped) this.#beat();
  }

  #beat(): void {
    const info = this.#options.self?.();
    if (info) {
      this.#selfId = info.id;
      this.#publish({ beat: info });
    }
    // Forget what expired long ago, so a list of restarts never grows.
    const forgetBefore = Date.now() - 60_000;
    for (const [id, heard] of this.#heard) if (heard.at < forgetBefore) this.#heard.delete(id);
  }

  #publish(message: Message): void {
    const client = this.#nats.client;
    if (client.isClosed() || client.isDraining()) return;
    client.publish(nodesSubject(this.#options.app), encoder.encode(JSON.stringify(message)));
  }

  #hear(data: Uint8Array): void {
    let message: Message;
    try {
      message = parseUntrustedJson(decoder.decode(data)) as Message;
    } catch (error) {
      this.#options.log.warn({ err: error }, 'malformed node heartbeat ignored');
      return;
    }
    if ('leaving' in message) {
      if (this.#heard.delete(String(message.leaving))) this.#options.onChange?.();
    } else if (message.beat && typeof message.beat.id === 'string') {
      const before = this.#heard.get(message.beat.id);
      this.#heard.set(message.beat.id, { info: message.beat, at: Date.now() });
      if (message.beat.id !== this.#selfId && !samePools(before?.info, message.beat)) this.#options.onChange?.();
    }
  }
}

/** Whether a heartbeat says the same of a node's pools and listener as the one before it. */
function samePools(before: NodeInfo | undefined, now: NodeInfo): boolean {
  return (
    before !== undefined &&
    before.nodeAddress === now.nodeAddress &&
    JSON.stringify(before.pools) === JSON.stringify(now.pools)
  );
}
