// One line of the file store's append-only log, `<crc32 hex> <json>\n`, and how a record
// changes the in-memory tables. Recovery and the live store share applyRecord so a replayed
// log lands in exactly the state the running store had.

import { crc32Hex } from './crc32.ts';

/** A record as the file store keeps it: the value stays serialised until someone reads it. */
export interface StoredJson {
  version: number;
  json: string;
}

/** collection -> key -> record */
export type Tables = Map<string, Map<string, StoredJson>>;

/**
 * `seq` numbers every record store-wide. Replay skips records whose seq the snapshot already
 * covers; a per-key version could not do that, because a key deleted and created again
 * starts over at version 1.
 */
export type LogRecord =
  | { seq: number; op: 'put'; collection: string; key: string; version: number; json: string }
  | { seq: number; op: 'delete'; collection: string; key: string };

const SPACE = 0x20;
const CHECKSUM_LENGTH = 8;

export function encodeRecord(record: LogRecord): string {
  const head = `{"seq":${record.seq},"op":"${record.op}","collection":${JSON.stringify(record.collection)},"key":${JSON.stringify(record.key)}`;
  // The value is spliced in already serialised: put stringified it once, at call time.
  const body = record.op === 'put' ? `${head},"version":${record.version},"value":${record.json}}` : `${head}}`;
  return `${crc32Hex(body)} ${body}\n`;
}

/** The record on one line (without its newline), or undefined when torn or corrupt. */
export function decodeRecord(line: Buffer): LogRecord | undefined {
  if (line.length <= CHECKSUM_LENGTH + 1 || line[CHECKSUM_LENGTH] !== SPACE) return undefined;
  const body = line.subarray(CHECKSUM_LENGTH + 1);
  if (line.toString('latin1', 0, CHECKSUM_LENGTH) !== crc32Hex(body)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  return toRecord(parsed);
}

function toRecord(parsed: unknown): LogRecord | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { seq, op, collection, key, version } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(seq) || typeof collection !== 'string' || typeof key !== 'string') return undefined;
  const base = { seq: seq as number, collection, key };
  if (op === 'delete') return { ...base, op };
  if (op !== 'put' || !Number.isSafeInteger(version) || !('value' in parsed)) return undefined;
  return { ...base, op, version: version as number, json: JSON.stringify(parsed.value) };
}

export function applyRecord(tables: Tables, record: LogRecord): void {
  let records = tables.get(record.collection);
  if (record.op === 'delete') {
    records?.delete(record.key);
    return;
  }
  if (records === undefined) {
    records = new Map();
    tables.set(record.collection, records);
  }
  records.set(record.key, { version: record.version, json: record.json });
}
