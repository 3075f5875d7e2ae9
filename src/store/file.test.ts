import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { StoreCorruptError, StoreUnavailableError } from '../errors.ts';
import { storeContract } from './contract.ts';
import { FileStore } from './file.ts';
import type { FileStoreOptions } from './file.ts';

const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-file-store-'));
  tempDirs.push(dir);
  return dir;
}

function recordingLog() {
  const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  return {
    warnings,
    warn: (obj: object, msg: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
  };
}

async function opened(options: FileStoreOptions): Promise<FileStore> {
  const store = new FileStore(options);
  await store.start();
  return store;
}

storeContract('FileStore', async () => new FileStore({ dir: await tempDir() }));
// A tiny compaction interval runs the whole contract across snapshot rewrites too.
storeContract(
  'FileStore, compacting every 3 records',
  async () => new FileStore({ dir: await tempDir(), compactAfter: 3 }),
);

describe('FileStore durability', { timeout: 30_000 }, () => {
  it('keeps every acknowledged write across a restart', async () => {
    const dir = await tempDir();
    const store = await opened({ dir });
    await Promise.all(Array.from({ length: 200 }, (_, n) => store.put(`c${n % 3}`, `k${n}`, { n })));
    await Promise.all(Array.from({ length: 50 }, (_, n) => store.put('c0', `k${n * 3}`, { n, again: true })));
    await Promise.all([store.delete('c1', 'k1'), store.delete('c2', 'k2')]);
    const before = await Promise.all(['c0', 'c1', 'c2'].map((c) => store.list(c)));
    await store.stop();

    const reopened = await opened({ dir });
    assert.deepEqual(await Promise.all(['c0', 'c1', 'c2'].map((c) => reopened.list(c))), before);
    assert.equal((await reopened.get('c0', 'k3'))?.version, 2);
    assert.equal(await reopened.get('c1', 'k1'), undefined);
    await reopened.stop();
  });

  it('waits in stop() for writes still queued', async () => {
    const dir = await tempDir();
    const store = await opened({ dir });
    const pending = Array.from({ length: 30 }, (_, n) => store.put('c', `k${n}`, n));
    await store.stop();
    assert.equal((await Promise.all(pending)).length, 30);
    await assert.rejects(store.put('c', 'late', 1), StoreUnavailableError);

    const reopened = await opened({ dir });
    assert.equal((await reopened.list('c')).length, 30);
    await reopened.stop();
  });

  it('rejects values that are not JSON', async () => {
    const store = await opened({ dir: await tempDir() });
    await assert.rejects(store.put('c', 'k', undefined), TypeError);
    await assert.rejects(store.put('c', 'k', { big: 1n }), TypeError);
    await store.stop();
  });

  it('compacts into a snapshot and restarts from it', async () => {
    const dir = await tempDir();
    const store = await opened({ dir, compactAfter: 5 });
    for (let n = 0; n < 23; n++) await store.put('c', `k${n % 7}`, n);
    await store.delete('c', 'k0');
    await store.stop();

    const logLines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).split('\n').filter(Boolean);
    assert.ok(logLines.length < 5, `log holds ${logLines.length} records after compaction`);
    assert.ok((await stat(join(dir, 'snapshot.json'))).size > 0);

    const reopened = await opened({ dir, compactAfter: 5 });
    const records = await reopened.list('c');
    assert.deepEqual(
      records.map((record) => [record.key, record.value, record.version]),
      [
        ['k1', 22, 4],
        ['k2', 16, 3],
        ['k3', 17, 3],
        ['k4', 18, 3],
        ['k5', 19, 3],
        ['k6', 20, 3],
      ],
    );
    await reopened.stop();
  });

  it('skips log records the snapshot already holds (crash between rename and truncate)', async () => {
    const dir = await tempDir();
    const first = await opened({ dir, compactAfter: 4 });
    for (let n = 1; n <= 3; n++) await first.put('c', 'k', n);
    await first.stop();
    const logBeforeCompaction = await readFile(join(dir, 'log.jsonl'));

    const second = await opened({ dir, compactAfter: 4 });
    await second.put('c', 'k', 4); // the 4th record triggers compaction
    await second.stop();
    // Put back what the truncation removed, as if the process died just before it.
    await appendFile(join(dir, 'log.jsonl'), logBeforeCompaction);

    const third = await opened({ dir });
    assert.deepEqual(await third.get('c', 'k'), { key: 'k', value: 4, version: 4 });
    assert.equal((await third.put('c', 'k', 5)).version, 5);
    await third.stop();
  });

  it('skips a torn final record, reports it, and appends cleanly after it', async () => {
    const dir = await tempDir();
    const store = await opened({ dir });
    for (let n = 0; n < 5; n++) await store.put('c', `k${n}`, n);
    await store.stop();
    const logFile = join(dir, 'log.jsonl');
    const goodSize = (await stat(logFile)).size;
    await appendFile(logFile, '1a2b3c4d {"seq":6,"op":"put","collection":"c","key":"torn","ver');

    const log = recordingLog();
    const recovered = await opened({ dir, log });
    assert.equal(log.warnings.length, 1);
    assert.equal(log.warnings[0]!.obj.file, logFile);
    assert.equal(log.warnings[0]!.obj.line, 6);
    assert.equal((await stat(logFile)).size, goodSize);
    assert.equal((await recovered.list('c')).length, 5);
    await recovered.put('c', 'after-tear', 'survives');
    await recovered.stop();

    const quiet = recordingLog();
    const again = await opened({ dir, log: quiet });
    assert.equal(quiet.warnings.length, 0);
    assert.equal((await again.get('c', 'after-tear'))?.value, 'survives');
    assert.equal((await again.list('c')).length, 6);
    await again.stop();
  });

  it('skips a complete final line whose checksum fails', async () => {
    const dir = await tempDir();
    const store = await opened({ dir });
    await store.put('c', 'a', 1);
    await store.put('c', 'b', 2);
    await store.stop();
    const logFile = join(dir, 'log.jsonl');
    const text = await readFile(logFile, 'utf8');
    await writeFile(logFile, text.replace('"value":2', '"value":3'));

    const log = recordingLog();
    const recovered = await opened({ dir, log });
    assert.equal(log.warnings[0]?.obj.line, 2);
    assert.equal(await recovered.get('c', 'b'), undefined);
    await recovered.stop();
  });

  it('refuses to start when a record in the middle of the log is corrupt', async () => {
    const dir = await tempDir();
    const store = await opened({ dir });
    for (let n = 0; n < 3; n++) await store.put('c', `k${n}`, n);
    await store.stop();
    const logFile = join(dir, 'log.jsonl');
    const text = await readFile(logFile, 'utf8');
    await writeFile(logFile, text.replace('"key":"k1"', '"key":"kX"'));

    const broken = new FileStore({ dir });
    await assert.rejects(broken.start(), (error: unknown) => {
      assert.ok(error instanceof StoreCorruptError);
      assert.match(error.message, /log\.jsonl line 2 is corrupt/);
      return true;
    });
    await broken.stop(); // safe after a failed start
  });

  it('refuses to start on a snapshot that is not JSON', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'snapshot.json'), '{"seq":3,"collections":[[');
    await assert.rejects(new FileStore({ dir }).start(), StoreCorruptError);
  });

  it('keeps every acknowledged key when the writer process is SIGKILLed', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const acknowledged: string[] = [];
    // Three rounds on one directory: later rounds recover from the previous kill first.
    for (let round = 0; round < 3; round++) {
      acknowledged.push(...(await runCrashWriter(dir, round * 1_000_000)));
      const store = await opened({ dir, log: recordingLog() });
      const stored = new Set((await store.list('crash')).map((record) => record.key));
      const missing = acknowledged.filter((key) => !stored.has(key));
      assert.deepEqual(missing, [], `round ${round}: acknowledged keys lost`);
      assert.deepEqual((await store.get('crash', acknowledged.at(-1)!))?.value, {
        key: acknowledged.at(-1),
        padding: 'x'.repeat(200),
      });
      await store.stop();
    }
  });
});

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const crashWriter = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** Runs the fixture until ~100 acks, SIGKILLs it, and returns every key it acknowledged. */
function runCrashWriter(dir: string, firstKey: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', crashWriter, dir, String(firstKey)], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const keys: string[] = [];
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop()!; // a line without its newline is not an acknowledgement yet
      keys.push(...lines);
      if (keys.length >= 100) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`crash writer exited on its own (code ${code}, signal ${signal})`));
      else resolve(keys);
    });
  });
}
