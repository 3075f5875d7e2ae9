// The file store's snapshot: the whole state at one log sequence number, replaced
// atomically (temp file, fsync, rename, fsync the directory) so a crash at any point
// leaves either the old snapshot or the new one, never a mix.

import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreCorruptError } from '../errors.ts';
import type { Tables } from './log-record.ts';

export const SNAPSHOT_FILE = 'snapshot.json';
const TEMP_SUFFIX = '.tmp';

export interface Snapshot {
  /** The seq of the last log record folded in; replay skips records at or below it. */
  seq: number;
  tables: Tables;
}

// On disk: {"seq":N,"collections":[[name,[[key,version,value],...]],...]}. Arrays rather than
// objects keyed by name, so a key such as "__proto__" needs no special care.
export async function readSnapshot(dir: string): Promise<Snapshot> {
  const file = join(dir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { seq: 0, tables: new Map() };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError(`${file} is not valid JSON; restore it from a backup`, { cause: error });
  }
  const tables = toTables(parsed);
  if (tables === undefined) throw new StoreCorruptError(`${file} does not have the snapshot layout`);
  return { seq: (parsed as { seq: number }).seq, tables };
}

function toTables(parsed: unknown): Tables | undefined {
  const { seq, collections } = (parsed ?? {}) as { seq?: unknown; collections?: unknown };
  if (!Number.isSafeInteger(seq) || !Array.isArray(collections)) return undefined;
  const tables: Tables = new Map();
  for (const entry of collections) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) return undefined;
    const records = new Map<string, { version: number; json: string }>();
    for (const row of entry[1] as unknown[]) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || !Number.isSafeInteger(row[1])) return undefined;
      records.set(row[0], { version: row[1] as number, json: JSON.stringify(row[2]) });
    }
    tables.set(entry[0], records);
  }
  return tables;
}

export async function writeSnapshot(dir: string, snapshot: Snapshot): Promise<void> {
  const file = join(dir, SNAPSHOT_FILE);
  const temp = file + TEMP_SUFFIX;
  try {
    await writeTemp(temp, snapshot);
  } catch (error) {
    // A half-written snapshot on a full disk holds the very room the log needs to go on.
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await rename(temp, file);
  await syncDir(dir);
}

async function writeTemp(temp: string, snapshot: Snapshot): Promise<void> {
  const handle = await open(temp, 'w');
  try {
    // writeFile, unlike write, loops until every byte is written; on a handle it continues
    // from the current position, so successive calls append.
    await handle.writeFile(`{"seq":${snapshot.seq},"collections":[`);
    let firstCollection = true;
    // One write per collection keeps memory bounded by the largest collection, not the store.
    for (const [name, records] of snapshot.tables) {
      const rows: string[] = [];
      for (const [key, record] of records) rows.push(`[${JSON.stringify(key)},${record.version},${record.json}]`);
      await handle.writeFile(`${firstCollection ? '' : ','}[${JSON.stringify(name)},[${rows.join(',')}]]`);
      firstCollection = false;
    }
    await handle.writeFile(']}');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename or a newly created file in `dir` survive power loss. */
export async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
