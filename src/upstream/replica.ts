// One upstream replica as the gateway sees it: where it listens, how many requests it is
// serving, and whether it may get another. Balancers only order replicas; this decides.

import diagnostics_channel from 'node:diagnostics_channel';
import { Health, type HealthOptions } from './health.ts';

/**
 * Where a replica listens, in the shape `http.request()` takes (`socketPath` or `host` +
 * `port`); `tls` for another node's listener, reached over mutual TLS.
 */
export type ReplicaAddress =
  { readonly socketPath: string } | { readonly host: string; readonly port: number; readonly tls?: boolean };

export interface ReplicaOptions extends HealthOptions {
  /** In-flight requests at which the replica is full and gets no more. @default Infinity */
  maxInFlight?: number;
}

/** Published on `cleave:upstream:health` whenever `healthy` flips or the replica goes down. */
export interface ReplicaHealthMessage {
  replica: Replica;
  healthy: boolean;
  down: boolean;
}

const healthChannel = diagnostics_channel.channel('cleave:upstream:health');

/** One request's claim on a replica's in-flight count, from `Replica.begin()`. */
export interface Lease {
  readonly replica: Replica;
  /** Ends the claim; a second call does nothing, so a count can't be given back twice. */
  release(): void;
}

// Not exported: a lease made anywhere but begin() could give back a count never taken.
class ReplicaLease implements Lease {
  readonly replica: Replica;
  #released = false;

  constructor(replica: Replica) {
    this.replica = replica;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    endRequest(this.replica);
  }
}

// A friend function: Replica's static block hands it access to the private count, so no
// public `end()` exists to be called twice or without a begin().
let endRequest: (replica: Replica) => void;

export class Replica {
  readonly id: string;
  readonly address: ReplicaAddress;
  readonly #maxInFlight: number;
  readonly #health: Health;
  #inFlight = 0;
  #draining = false;
  #down = false;
  #idleWaiters: (() => void)[] = [];

  static {
    endRequest = (replica) => {
      replica.#inFlight -= 1;
      if (replica.#inFlight === 0 && replica.#idleWaiters.length > 0) {
        for (const wake of replica.#idleWaiters.splice(0)) wake();
      }
    };
  }

  constructor(id: string, address: ReplicaAddress, options: ReplicaOptions = {}) {
    this.id = id;
    this.address = address;
    this.#health = new Health(options);
    const maxInFlight = options.maxInFlight ?? Infinity;
    if (maxInFlight !== Infinity && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    }
    this.#maxInFlight = maxInFlight;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get healthy(): boolean {
    return !this.#down && this.#health.healthy;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get down(): boolean {
    return this.#down;
  }

  /** May this replica take a new request now? The caller asks this of each candidate. */
  available(): boolean {
    return this.healthy && !this.#draining && this.#inFlight < this.#maxInFlight;
  }

  full(): boolean {
    return this.#inFlight >= this.#maxInFlight;
  }

  /** Counts a request as in flight until the lease is released (once, in a `finally`). */
  begin(): Lease {
    this.#inFlight += 1;
    return new ReplicaLease(this);
  }

  /** A request got an answer (any HTTP status: the process is serving). */
  recordSuccess(): void {
    if (!this.#down && this.#health.record(true)) this.#publish();
  }

  /** A request could not reach the replica: refused, reset, or timed out. */
  recordFailure(): void {
    if (!this.#down && this.#health.record(false)) this.#publish();
  }

  /** The active probe's verdict: a failure takes the replica out at once (health.ts). */
  recordProbe(ok: boolean): void {
    if (this.#down) return;
    if (ok ? this.#health.record(true) : this.#health.failNow()) this.#publish();
  }

  /** No new requests; those in flight finish. One way: a drained replica is replaced, not revived. */
  drain(): void {
    this.#draining = true;
  }

  /** The process is gone: out of the pool at once, whatever the counters say. Final. */
  markDown(): void {
    if (this.#down) return;
    this.#down = true;
    this.#publish();
  }

  /** Resolves once no request is in flight (at once if none is): when a drain may end. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #publish(): void {
    if (healthChannel.hasSubscribers) {
      healthChannel.publish({ replica: this, healthy: this.healthy, down: this.#down } satisfies ReplicaHealthMessage);
    }
  }
}
