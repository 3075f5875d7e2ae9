// A durable store for a single process: a snapshot plus an append-only, checksummed log in
// one directory. Writes are group-committed — every write waiting while one fdatasync runs
// goes to disk in the next single write + fdatasync — so many concurrent writers cost few
// syncs. Only one FileStore may open a directory at a time.
//
// A failed write (a full disk) refuses that batch and cuts what it left off the log; the next
// write tries the disk again, so the store recovers by itself once space is freed.

import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreConflictError, StoreUnavailableError } from '../errors.ts';
import { recover, LOG_FILE } from './file-recovery.ts';
import type { RecoveryLog } from './file-recovery.ts';
import { selectKeys } from './list-keys.ts';
import { applyRecord, encodeRecord } from './log-record.ts';
import type { LogRecord, StoredJson, Tables } from './log-record.ts';
import { syncDir, writeSnapshot } from './snapshot.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';
import { Outage, type OutageLog } from '../shared/outage.ts';

/** A pino logger fits. Each level missing goes to process.emitWarning. */
export interface FileStoreLog extends RecoveryLog {
  /** A write the disk refused, with the path and errno: once per outage, not per write. */
  error?(obj: object, msg: string): void;
  /** Writes succeed again after an outage. */
  info?(obj: object, msg: string): void;
}

export interface FileStoreOptions {
  /** Directory for snapshot.json and log.jsonl; created when missing. */
  dir: string;
  /** Receives recovery and compaction warnings and write failures. @default process.emitWarning */
  log?: FileStoreLog;
  /**
   * Log records written before they are folded into a new snapshot, or half
   * the live records when that is more, so the snapshot's cost (which grows
   * with the data) stays a constant share per write. @default 10000
   */
  compactAfter?: number;
}

type PendingWrite =
  | {
      op: 'put';
      collection: string;
      key: string;
      json: string;
      ifVersion?: number;
      resolve(record: StoredRecord): void;
      reject(error: unknown): void;
    }
  | {
      op: 'delete';
      collection: string;
      key: string;
      ifVersion?: number;
      resolve(deleted: boolean): void;
      reject(error: unknown): void;
    };

type State = 'new' | 'open' | 'stopping' | 'stopped';

const emitWarning = (obj: object, msg: string) =>
  process.emitWarning(`${msg} ${JSON.stringify(obj)}`, 'CleaveStoreWarning');
const defaultLog: FileStoreLog = { warn: emitWarning };

/** How long a client is told to wait after a refused write; a full disk is rarely freed at once. */
const RETRY_AFTER_SECONDS = 5;

export class FileStore implements StoreBackend {
  private readonly dir: string;
  private readonly log: FileStoreLog;
  private readonly compactAfter: number;
  private state: State = 'new';
  /** Only durable records: reads never see a write that a crash could still undo. */
  private tables: Tables = new Map();
  private seq = 0;
  private sinceSnapshot = 0;
  private handle: FileHandle | undefined;
  private queue: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  /** Bytes at the head of the log that hold its durable records; a failed write is cut back to it. */
  private logLength = 0;
  /** True when a failed write may have left bytes past logLength that cutting them off didn't remove. */
  private logTailUnknown = false;
  private readonly outage: Outage;

  constructor(options: FileStoreOptions) {
    this.dir = options.dir;
    this.log = options.log ?? defaultLog;
    this.compactAfter = options.compactAfter ?? 10_000;
    this.outage = new Outage(outageLog(this.log), { dir: this.dir, file: join(this.dir, LOG_FILE) });
    if (!Number.isInteger(this.compactAfter) || this.compactAfter < 1) {
      throw new RangeError(`compactAfter must be a positive integer, got ${options.compactAfter}`);
    }
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`FileStore at ${this.dir} was already started`);
    await mkdir(this.dir, { recursive: true });
    const recovered = await recover(this.dir, this.log);
    this.tables = recovered.tables;
    this.seq = recovered.seq;
    this.sinceSnapshot = recovered.replayed;
    this.handle = await open(join(this.dir, LOG_FILE), 'a');
    this.logLength = (await this.handle.stat()).size;
    // The log may have just been created; its directory entry must be durable too.
    await syncDir(this.dir);
    this.state = 'open';
  }

  async stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') return;
    this.state = 'stopping';
    while (this.flushing !== undefined) await this.flushing;
    if (this.logTailUnknown) {
      await this.cutLogTail().catch((error: unknown) =>
        this.log.warn({ dir: this.dir, err: error }, 'store log may still end in part of a refused write'),
      );
    }
    await this.handle?.close();
    this.handle = undefined;
    this.state = 'stopped';
  }

  async get(collection: string, key: string): Promise<StoredRecord | undefined> {
    this.assertReadable();
    const record = this.tables.get(collection)?.get(key);
    return record === undefined ? undefined : toStoredRecord(key, record);
  }

  async list(collection: string, options?: ListOptions): Promise<StoredRecord[]> {
    this.assertReadable();
    const records = this.tables.get(collection);
    // Selected even when the collection is absent, so bad options fail the same way always.
    return selectKeys(records?.keys() ?? [], options).map((key) => toStoredRecord(key, records!.get(key)!));
  }

  put(collection: string, key: string, value: unknown, options: PutOptions = {}): Promise<StoredRecord> {
    // Serialised now, so a caller mutating `value` while the write waits cannot change it.
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      return Promise.reject(new TypeError(`cannot store ${collection}/${key}: value is not JSON`, { cause: error }));
    }
    if (json === undefined) {
      return Promise.reject(new TypeError(`cannot store ${typeof value} in ${collection}/${key}: not JSON`));
    }
    const serialised = json;
    return new Promise((resolve, reject) => {
      this.enqueue({ op: 'put', collection, key, json: serialised, ifVersion: options.ifVersion, resolve, reject });
    });
  }

  delete(collection: string, key: string, options: PutOptions = {}): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.enqueue({ op: 'delete', collection, key, ifVersion: options.ifVersion, resolve, reject });
    });
  }

  // No path in these messages, nor in any error a write is refused with: they reach clients.
  private assertReadable(): void {
    if (this.state === 'open' || this.state === 'stopping') return;
    throw new StoreUnavailableError(`the file store is ${this.state === 'new' ? 'not started' : 'stopped'}`);
  }

  private enqueue(write: PendingWrite): void {
    if (this.state !== 'open') {
      return write.reject(new StoreUnavailableError(`the file store is not accepting writes (${this.state})`));
    }
    this.queue.push(write);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushing !== undefined) return;
    // setImmediate rather than a microtask: every write issued in this turn of the event
    // loop, however many promise hops deep, joins the first batch.
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        // Writes that arrived after flush() saw an empty queue but before this callback ran.
        if (this.queue.length > 0) this.scheduleFlush();
      });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      await this.commit(this.queue.splice(0));
      if (this.dueForCompaction()) await this.compact();
    }
  }

  /**
   * Decides every write of the batch in call order against the durable state plus the
   * batch's own earlier writes — the same outcome as running them one by one — then makes
   * the accepted ones durable with one write and one fdatasync, and only then settles them.
   */
  private async commit(batch: PendingWrite[]): Promise<void> {
    const staged = new Map<string, StoredJson | null>();
    const records: LogRecord[] = [];
    const settlers: Array<() => void> = [];
    for (const write of batch) {
      const { collection, key } = write;
      const id = JSON.stringify([collection, key]);
      const current = staged.has(id) ? staged.get(id) : this.tables.get(collection)?.get(key);
      const actual = current?.version ?? 0;
      if (write.ifVersion !== undefined && write.ifVersion !== actual) {
        const conflict = new StoreConflictError(collection, key, write.ifVersion, actual);
        settlers.push(() => write.reject(conflict));
      } else if (write.op === 'delete') {
        if (current == null) {
          settlers.push(() => write.resolve(false));
          continue;
        }
        records.push({ seq: ++this.seq, op: 'delete', collection, key });
        staged.set(id, null);
        settlers.push(() => write.resolve(true));
      } else {
        const stored = { version: actual + 1, json: write.json };
        records.push({ seq: ++this.seq, op: 'put', collection, key, ...stored });
        staged.set(id, stored);
        settlers.push(() => write.resolve(toStoredRecord(key, stored)));
      }
    }
    if (records.length > 0) {
      const text = records.map(encodeRecord).join('');
      try {
        if (this.logTailUnknown) await this.cutLogTail();
        await this.handle!.writeFile(text);
        await this.handle!.datasync();
      } catch (error) {
        return this.refuse(batch, error);
      }
      this.logLength += Buffer.byteLength(text);
      for (const record of records) applyRecord(this.tables, record);
      this.sinceSnapshot += records.length;
      this.outage.succeeded();
    }
    for (const settle of settlers) settle();
  }

  /**
   * Refuses a batch that did not reach the disk, and cuts whatever part of it did off the log:
   * a torn record followed by later good ones would stop recovery, and a whole record of a
   * refused write must not come back at the next start. (After a failed fdatasync the state of
   * those bytes is unknowable, so they are cut then too.) The writes queued behind this batch
   * stay queued: the next attempt may find the space freed.
   */
  private async refuse(batch: PendingWrite[], error: unknown): Promise<void> {
    this.logTailUnknown = true;
    try {
      await this.cutLogTail();
    } catch {
      // Tried again before the next write, which is refused if it still fails.
    }
    this.outage.failed(error, batch.length);
    // No cause: the client's error says nothing of files, and the log has the cause once per
    // outage rather than with every refused request.
    const refused = new StoreUnavailableError('the store could not save this write; try again later', {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
    for (const write of batch) write.reject(refused);
  }

  private async cutLogTail(): Promise<void> {
    await this.handle!.truncate(this.logLength);
    await this.handle!.datasync();
    this.logTailUnknown = false;
  }

  /**
   * Rewriting the snapshot costs time in proportion to the live records and
   * holds up queued writes meanwhile; compacting every fixed N records made p99
   * grow with the data (bench/store.ts). Waiting for half the live records keeps
   * the amortised cost per write constant.
   */
  private dueForCompaction(): boolean {
    if (this.sinceSnapshot < this.compactAfter) return false;
    let live = 0;
    for (const table of this.tables.values()) live += table.size;
    return this.sinceSnapshot >= live / 2;
  }

  /**
   * Folds the log into a new snapshot. Each step is crash-safe: until the rename the old
   * snapshot plus the full log stand; after it, replay skips the log records the snapshot
   * already holds (by seq), so a crash before the truncation applies nothing twice.
   */
  private async compact(): Promise<void> {
    // Reset first: if compaction fails, retry only after another full interval of records.
    this.sinceSnapshot = 0;
    try {
      await writeSnapshot(this.dir, { seq: this.seq, tables: this.tables });
      await this.handle!.truncate(0);
      this.logLength = 0;
      await this.handle!.datasync();
    } catch (error) {
      this.log.warn(
        { dir: this.dir, err: error },
        'store compaction failed; the log keeps growing until the next attempt',
      );
    }
  }
}

/** The levels an outage is reported at; a log without them still hears of it. */
function outageLog(log: FileStoreLog): OutageLog {
  return {
    error: (obj, msg) => (log.error ? log.error(obj, msg) : emitWarning(obj, msg)),
    info: (obj, msg) => (log.info ? log.info(obj, msg) : emitWarning(obj, msg)),
  };
}

function toStoredRecord(key: string, record: StoredJson): StoredRecord {
  // Parsing per read doubles as the defensive copy: no two callers share an object.
  return { key, value: JSON.parse(record.json) as unknown, version: record.version };
}
