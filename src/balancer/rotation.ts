// Where a pool's next pick starts. Shared by the strategies that rotate (round robin, and
// least-in-flight to break ties), so both stay even when the caller skips candidates.

export class Rotation {
  #next = 0;

  /** The index a pick over `count` replicas starts at. */
  start(count: number): number {
    // Modulo the current size, so a pool that shrank since the last pick can't leave the
    // rotation pointing past its end.
    return count === 0 ? 0 : this.#next % count;
  }

  /**
   * Records that the replica at `index` was handed out: the next pick starts after it.
   * Moving past every candidate handed out, not one step per pick, keeps the rotation even
   * when the caller skips some: with B unavailable in [A, B, C], a pick starting at B yields
   * B (skipped), then C, and the next pick starts at A — A and C alternate. One step per pick
   * would give C both B's turn and its own (A 1/3, C 2/3).
   */
  handedOut(index: number): void {
    this.#next = index + 1;
  }
}
