// Round robin: each pick starts one past the last replica handed out and goes round the
// pool. For replicas of equal capacity serving requests of similar cost.

import type { Replica } from '../upstream/replica.ts';
import { Rotation } from './rotation.ts';
import type { Balancer, Candidates } from './types.ts';

export class RoundRobin implements Balancer {
  readonly #rotation = new Rotation();

  candidates(replicas: readonly Replica[]): Candidates {
    return new RoundRobinCandidates(this.#rotation, replicas);
  }
}

class RoundRobinCandidates implements Candidates {
  readonly #rotation: Rotation;
  readonly #replicas: readonly Replica[];
  readonly #start: number;
  #taken = 0;

  constructor(rotation: Rotation, replicas: readonly Replica[]) {
    this.#rotation = rotation;
    this.#replicas = replicas;
    this.#start = rotation.start(replicas.length);
  }

  next(): Replica | undefined {
    const count = this.#replicas.length;
    if (this.#taken >= count) return undefined;
    let index = this.#start + this.#taken;
    if (index >= count) index -= count;
    this.#taken += 1;
    this.#rotation.handedOut(index);
    return this.#replicas[index];
  }
}
