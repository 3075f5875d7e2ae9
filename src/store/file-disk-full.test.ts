// Issue 12, item 7: the file store on a disk that fills up and is freed again — a real tmpfs
// filled until ENOSPC, not a mocked fs. Skipped, with the reason, where this process can't mount.

import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { mountSmallDisk, whyNoSmallDisk } from '../../test/helpers/disk-full.ts';
import type { SmallDisk } from '../../test/helpers/disk-full.ts';
import { until } from '../../test/helpers/wait.ts';
import { StoreUnavailableError } from '../errors.ts';
import { FileStore } from './file.ts';

type Entry = { obj: Record<string, unknown>; msg: string };

function recordingLog() {
  const lines = { warn: [] as Entry[], error: [] as Entry[], info: [] as Entry[] };
  const at = (level: keyof typeof lines) => (obj: object, msg: string) =>
    void lines[level].push({ obj: obj as Record<string, unknown>, msg });
  return { lines, warn: at('warn'), error: at('error'), info: at('info') };
}

// More than a page: it can never fit in the room left at the end of the log's last page.
const big = (n: number) => ({ n, padding: 'x'.repeat(16 * 1024) });

const skip = await whyNoSmallDisk();

describe('FileStore on a full disk', { skip: skip ?? false, timeout: 30_000 }, () => {
  let disk: SmallDisk | undefined;
  let store: FileStore | undefined;
  afterEach(async () => {
    await store?.stop();
    store = undefined;
    await disk?.unmount();
    disk = undefined;
  });

  async function openOnSmallDisk(options: { compactAfter?: number } = {}) {
    disk = await mountSmallDisk(1024 * 1024);
    const dir = join(disk.dir, 'data');
    const log = recordingLog();
    store = new FileStore({ dir, log, ...options });
    await store.start();
    return { disk, dir, log, store };
  }

  it('refuses a write with StoreUnavailableError (503) naming no path, and logs ENOSPC with the path once', async () => {
    const { disk, dir, log, store } = await openOnSmallDisk();
    await store.put('c', 'before', big(0));
    await disk.fill();

    for (const key of ['first', 'second']) {
      await assert.rejects(store.put('c', key, big(1)), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.equal(error.code, 'CLEAVE_STORE_UNAVAILABLE');
        assert.equal(error.status, 503);
        const body = JSON.stringify(error.toJSON());
        assert.ok(!body.includes(disk.dir), `the client's body names the data folder: ${body}`);
        return true;
      });
    }
    assert.equal(log.lines.error.length, 1, 'one error line for the outage, not one per write');
    const [line] = log.lines.error;
    assert.equal((line!.obj.err as NodeJS.ErrnoException).code, 'ENOSPC');
    assert.equal(line!.obj.file, join(dir, 'log.jsonl'));
  });

  it('cuts off what a write cut short by ENOSPC left in the log', async () => {
    const { disk, dir, store } = await openOnSmallDisk();
    await store.put('c', 'before', { n: 0 });
    const { size } = await stat(join(dir, 'log.jsonl'));
    await disk.fill();

    // Part of this record fits in the room left at the end of the log's last page.
    await assert.rejects(store.put('c', 'cut-short', big(1)), StoreUnavailableError);
    assert.equal((await stat(join(dir, 'log.jsonl'))).size, size);
  });

  it('takes writes again once space is freed, without a restart, and keeps every acknowledged one', async () => {
    const { disk, dir, log, store: first } = await openOnSmallDisk();
    const acknowledged = new Map<string, unknown>();
    const put = async (key: string, value: unknown) => {
      await first.put('c', key, value);
      acknowledged.set(key, value);
    };
    for (let n = 0; n < 5; n++) await put(`before-${n}`, big(n));
    await disk.fill();
    // Small writes fit in the last page's spare room until one doesn't.
    const failed: string[] = [];
    for (let n = 0; n < 20; n++) {
      await put(`filling-${n}`, { n, padding: 'y'.repeat(700) }).catch((error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        failed.push(`filling-${n}`);
      });
    }
    assert.ok(failed.length > 0, 'some write failed on the full disk');

    await disk.free();
    await put('after', big(99));
    assert.equal(log.lines.info.filter((line) => /resumed/.test(line.msg)).length, 1);
    await Promise.all(Array.from({ length: 10 }, (_, n) => put(`after-${n}`, big(n))));
    await first.stop();

    const quiet = recordingLog();
    store = new FileStore({ dir, log: quiet });
    await store.start();
    assert.deepEqual(quiet.lines.warn, [], 'recovery found no torn record');
    const stored = new Map((await store.list('c')).map((record) => [record.key, record.value]));
    assert.deepEqual(stored, acknowledged);
    for (const key of failed) assert.ok(!stored.has(key), `${key} was refused yet is stored`);
  });

  it('gives back the room a compaction took when the disk filled during it', async () => {
    const { disk, dir, log, store } = await openOnSmallDisk({ compactAfter: 20 });
    for (let n = 0; n < 19; n++) await store.put('c', `k${n}`, { n, padding: 'z'.repeat(2000) });
    // Room for the next record, not for a ~40 KiB snapshot.
    await disk.fill({ leaveBytes: 8192 });
    await store.put('c', 'k19', 19);

    await until(() => log.lines.warn.find((line) => /compaction failed/.test(line.msg)), 5000, 'compaction fails');
    assert.deepEqual(await readdir(dir), ['log.jsonl']);
    assert.equal((await readFile(join(dir, 'log.jsonl'), 'utf8')).split('\n').length, 21);
  });
});
