// `cleave start` as a user runs it: kill -9 of one replica under steady GET
// load costs no client an error, and the supervisor brings the replica back.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { childPids, type CleaveProcess, startCleave, stopLeavingNothing, titleOf } from '../helpers/spawn-cleave.ts';

describe('cleave start under failure', { timeout: 60_000 }, () => {
  let app: CleaveProcess;
  before(async () => {
    app = await startCleave(['start', 'test/fixtures/replicated'], { CLEAVE_TASK_THREADS: '1' });
  });
  after(() => stopLeavingNothing(app));

  it('kill -9 of a replica under GET load: zero client errors, and the replica comes back', async () => {
    const replicas = childPids(app.child.pid ?? 0).filter((pid) => titleOf(pid).startsWith('cleave notes#'));
    assert.equal(replicas.length, 2);
    const victim = replicas[0] as number;
    const seen = new Set<number>();
    const failures: string[] = [];
    let requests = 0;
    const until = Date.now() + 3000;
    const loop = async () => {
      while (Date.now() < until) {
        try {
          const res = await fetch(`${app.url}/pid`);
          requests++;
          if (res.status !== 200) failures.push(`status ${res.status}: ${await res.text()}`);
          else seen.add(((await res.json()) as { pid: number }).pid);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, loop));
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(victim, 'SIGKILL');
    await load;
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests > 100, `steady load: ${requests} requests`);

    // Back-off starts at 100 ms; a new notes#1 process serves traffic again.
    const deadline = Date.now() + 15_000;
    let fresh: number | undefined;
    while (!fresh && Date.now() < deadline) {
      const now = childPids(app.child.pid ?? 0).filter((pid) => titleOf(pid).startsWith('cleave notes#'));
      fresh = now.find((pid) => !replicas.includes(pid));
      if (!fresh) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(fresh, 'a replacement replica process');
    const answered = new Set<number>();
    const stop = Date.now() + 10_000;
    while (!answered.has(fresh) && Date.now() < stop) {
      const res = await fetch(`${app.url}/pid`);
      answered.add(((await res.json()) as { pid: number }).pid);
    }
    assert.ok(answered.has(fresh), 'the replacement replica serves requests');
  });
});
