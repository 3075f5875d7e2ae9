// One process's connection to the Redis every node shares, for its rate counters and cron
// locks. It never queues a command while disconnected and gives each one a timeout, so a
// Redis that is down or slow costs a caller CLEAVE_REDIS_TIMEOUT_MS at most, never a hang; it
// reconnects by itself, and the log hears of an outage once, and once more when it ends.

import type { Redis } from 'ioredis';
import { loadOnUse } from '../shared/load-on-use.ts';
import { RedisUnavailableError } from '../errors.ts';
import { Outage, type OutageLog } from '../shared/outage.ts';
import { reasonOf, redactedUrl } from '../shared/server-errors.ts';

export interface RedisConnectionOptions {
  /** `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Longest a command (or the connection at start) may take. */
  timeoutMs: number;
  /** Put before every key, so apps (and their versions) sharing one Redis never meet. */
  keyPrefix: string;
  log?: OutageLog;
}

// Reconnect attempts back off to once a second: often enough to notice a restart at once,
// rarely enough not to flood a server that is coming back up.
const MAX_RECONNECT_DELAY_MS = 1000;

const ioredis = loadOnUse<typeof import('ioredis')>('ioredis');

export class RedisConnection {
  readonly client: Redis;
  readonly #url: string;
  readonly #outage: Outage | undefined;
  /** Why the connection last failed: connect() itself says only "Connection is closed". */
  #lastError: unknown;

  constructor(options: RedisConnectionOptions) {
    this.#url = options.url;
    this.client = new (ioredis().Redis)(options.url, {
      lazyConnect: true,
      keyPrefix: options.keyPrefix,
      // A command while disconnected fails at once (the caller falls back) rather than wait
      // in a queue for a server that may be gone for minutes.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
      connectionName: 'cleave',
    });
    const { log } = options;
    this.#outage =
      log &&
      new Outage(
        log,
        { redis: redactedUrl(options.url) },
        {
          failedMessage:
            'Redis unreachable; rate limits are counted on this node and cron ticks are skipped until it is back',
          resumedMessage: 'Redis reachable again',
        },
      );
    // Without a listener, ioredis reports every failed reconnect on stderr.
    this.client.on('error', (error: unknown) => {
      this.#lastError = error;
      this.#outage?.failed(error, 0);
    });
    this.client.on('ready', () => this.succeeded());
  }

  /** Connects; Redis unreachable (or refusing us) is a RedisUnavailableError. */
  async start(): Promise<void> {
    try {
      await this.client.connect();
      await this.client.ping();
    } catch (error) {
      this.client.disconnect();
      const why = this.#lastError ?? error;
      throw new RedisUnavailableError(`cannot use Redis at ${redactedUrl(this.#url)}: ${reasonOf(why)}`, {
        cause: why,
      });
    }
  }

  async stop(): Promise<void> {
    if (this.client.status === 'end') return;
    // QUIT waits for replies in flight; a Redis that is down gets a plain disconnect.
    if (this.client.status === 'ready') await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }

  /**
   * A call that failed. Refused while disconnected, it adds nothing: the connection's own
   * error said why. Failed while connected (a timeout), it opens an outage of its own.
   */
  failed(error: unknown): void {
    if (this.client.status === 'ready') this.#outage?.failed(error, 1);
  }

  succeeded(): void {
    this.#outage?.succeeded();
  }
}
