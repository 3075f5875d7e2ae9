// `cleave start` as a user runs it: kill -9 of one replica under steady GET
// load costs no client an error, and the supervisor brings the replica back.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { childPids, type CleaveProcess, startCleave, stopLeavingNothing, titleOf } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

describe('cleave start under failure', { timeout: 60_000 }, () => {
  let app: CleaveProcess;
  before(async () => {
    app = await startCleave(['start', 'test/fixtures/replicated'], { CLEAVE_TASK_THREADS: '1' });
  });
  after(() => stopLeavingNothing(app));

  it('kill -9 of a replica under GET load: zero client errors, and the replica comes back', async () => {
    const replicas = childPids(app.child.pid ?? 0).filter((pid) => titleOf(pid).startsWith('cleave notes#'));
    assert.equal(replicas.length, 2);
    const [victim, survivor] = replicas as [number, number];
    /** Which processes answered, before the kill and after it. */
    const seen = new Set<number>();
    const seenAfterKill = new Set<number>();
    const failures: string[] = [];
    let requests = 0;
    let requestsAtKill = 0;
    let killed = false;
    let loading = true;
    const loop = async () => {
      while (loading) {
        try {
          const res = await fetch(`${app.url}/pid`);
          requests++;
          if (res.status !== 200) failures.push(`status ${res.status}: ${await res.text()}`);
          else (killed ? seenAfterKill : seen).add(((await res.json()) as { pid: number }).pid);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, loop));
    let fresh: number | undefined;
    try {
      // The victim has requests to lose: both replicas are taking the load.
      await until(() => (seen.has(victim) && seen.has(survivor) ? true : undefined), 10_000, 'both replicas serve');
      process.kill(victim, 'SIGKILL');
      killed = true;
      requestsAtKill = requests;
      // The load goes on until a new notes process (back-off starts at 100 ms) answers some of it.
      fresh = await until(
        () => [...seenAfterKill].find((pid) => !replicas.includes(pid)),
        15_000,
        'a replacement replica serves requests',
      );
    } finally {
      loading = false;
      await load;
    }
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests - requestsAtKill > 100, `steady load after the kill: ${requests - requestsAtKill} requests`);
    assert.ok(seenAfterKill.has(survivor), 'the survivor carried the load meanwhile');
    assert.match(titleOf(fresh), /^cleave notes#\d+$/);
  });
});
