// Start-up for the file store: load the snapshot, replay the log over it, and cut a torn
// tail off the log so later appends start on a clean line boundary.

import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreCorruptError } from '../errors.ts';
import { applyRecord, decodeRecord } from './log-record.ts';
import type { Tables } from './log-record.ts';
import { readSnapshot } from './snapshot.ts';

export const LOG_FILE = 'log.jsonl';

export interface RecoveryLog {
  warn(obj: object, msg: string): void;
}

export interface RecoveredState {
  tables: Tables;
  /** Highest seq in the snapshot or the log; the next record gets seq + 1. */
  seq: number;
  /** Records replayed from the log, which count towards the next compaction. */
  replayed: number;
}

const NEWLINE = 0x0a;

export async function recover(dir: string, log: RecoveryLog): Promise<RecoveredState> {
  const snapshot = await readSnapshot(dir);
  const file = join(dir, LOG_FILE);
  const bytes = await readLog(file);
  const state: RecoveredState = { tables: snapshot.tables, seq: snapshot.seq, replayed: 0 };

  let start = 0;
  for (let lineNumber = 1; start < bytes.length; lineNumber++) {
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline === -1 ? bytes.length : newline;
    // A record without its newline was never acknowledged: a batch is acknowledged only
    // after all of it, newlines included, is on disk.
    const record = newline === -1 ? undefined : decodeRecord(bytes.subarray(start, end));
    if (record === undefined) {
      const isLastLine = newline === -1 || newline === bytes.length - 1;
      if (!isLastLine) {
        throw new StoreCorruptError(
          `${file} line ${lineNumber} is corrupt but records follow it, so this is not a torn ` +
            'final write; refusing to start rather than lose them. Restore the directory from a backup.',
        );
      }
      // A write cut short by a crash. It was never acknowledged, so dropping it loses nothing.
      log.warn(
        { file, line: lineNumber, offset: start, bytes: bytes.length - start },
        'store log ends in a torn record; skipping it',
      );
      await truncate(file, start);
      break;
    }
    // At or below the snapshot's seq: a crash hit between the snapshot's rename and the
    // log's truncation, and the snapshot already holds this record.
    if (record.seq > snapshot.seq) {
      applyRecord(state.tables, record);
      state.seq = Math.max(state.seq, record.seq);
      state.replayed++;
    }
    start = end + 1;
  }
  return state;
}

async function readLog(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

async function truncate(file: string, length: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.truncate(length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
