// Issue 12, item 7: `CLEAVE_STORE=file` on a disk that fills up, as a client and an operator
// see it, in one process (`cleave dev`) and split (`cleave start`, where the supervisor owns
// the store). The data folder is on a real tmpfs, filled until ENOSPC and freed again; the
// suite is skipped, with the reason, where this process can't mount one.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { mountSmallDisk, whyNoSmallDisk } from '../helpers/disk-full.ts';
import type { SmallDisk } from '../helpers/disk-full.ts';
import { type CleaveProcess, startCleave, stopLeavingNothing } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

const skip = await whyNoSmallDisk();

// More than a page, so it never fits in the room left at the end of the log's last page.
const note = (n: number) => ({ n, text: 'x'.repeat(16 * 1024) });

type LogLine = Record<string, unknown> & { err?: { code?: string } };

for (const mode of ['dev', 'start'] as const) {
  describe(`a full disk under cleave ${mode}`, { skip: skip ?? false, timeout: 60_000 }, () => {
    let disk: SmallDisk | undefined;
    let app: CleaveProcess | undefined;
    afterEach(async () => {
      // Stopped before the unmount: a process still holding the log open keeps the disk busy.
      await app?.stop();
      app = undefined;
      await disk?.unmount();
      disk = undefined;
    });

    it('answers 503 naming no path, logs ENOSPC once, and takes writes again once space is freed', async () => {
      disk = await mountSmallDisk(2 * 1024 * 1024);
      const dataDir = join(disk.dir, 'data');
      const env = { CLEAVE_STORE: 'file', CLEAVE_DATA_DIR: dataDir };
      app = await startCleave([mode, 'test/fixtures/disk-full'], env, 30_000);
      const running = app;
      const post = (id: string, body: unknown) =>
        fetch(`${running.url}/notes/${id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });

      for (let n = 0; n < 3; n++) assert.equal((await post(`before-${n}`, note(n))).status, 201);
      await disk.fill();

      for (const id of ['refused-1', 'refused-2']) {
        const refused = await post(id, note(-1));
        const text = await refused.text();
        assert.equal(refused.status, 503, text);
        assert.ok(refused.headers.has('retry-after'), 'a 503 says when to try again');
        assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'CLEAVE_STORE_UNAVAILABLE');
        assert.ok(!text.includes(disk.dir), `the body names the data folder: ${text}`);
      }
      const outage = await until(
        () => {
          const lines = running.logs.filter((line: LogLine) => line.level === 'error' && line.err?.code === 'ENOSPC');
          return lines.length > 0 ? lines : undefined;
        },
        5000,
        'the ENOSPC line in the log',
      );
      assert.ok(JSON.stringify(outage[0]).includes(dataDir), 'the log line names the data folder');

      await disk.free();
      const resumed = await post('after', note(99));
      assert.equal(resumed.status, 201, await resumed.text());
      await until(
        () => running.logs.find((line) => line.level === 'info' && /resumed/.test(String(line.msg))),
        5000,
        'a line saying writes resumed',
      );
      assert.equal(
        running.logs.filter((line: LogLine) => line.err?.code === 'ENOSPC').length,
        1,
        'one ENOSPC line for the whole outage, not one per request',
      );
      await stopLeavingNothing(running);
      app = undefined;

      // Every acknowledged write is there after a restart, and no refused one.
      app = await startCleave([mode, 'test/fixtures/disk-full'], env, 30_000);
      const restarted = app;
      for (const id of ['before-0', 'before-1', 'before-2', 'after']) {
        const res = await fetch(`${restarted.url}/notes/${id}`);
        assert.equal(res.status, 200, `${id}: ${res.status}`);
      }
      assert.equal((await fetch(`${restarted.url}/notes/refused-1`)).status, 404);
    });
  });
}
