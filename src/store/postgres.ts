// The Store on PostgreSQL: every process of every node reads and writes one source of truth.
// Each service's collections live in its own schema (postgres-layout.ts); a versioned write
// with `ifVersion` is one compare-and-set statement, so concurrent writers on any number of
// machines can't both win. A bounded pool per process, a statement timeout, and every
// failure to reach the server answered at once as StoreUnavailableError (503): the pool
// makes new connections on the next call, so the store recovers by itself.

import type pg from 'pg';
import { loadOnUse } from '../shared/load-on-use.ts';
import { StoreConflictError, StoreUnavailableError } from '../errors.ts';
import { checkListOptions } from './list-keys.ts';
import { ddlOf, placementOf, prefixEnd, quoted, type Placement } from './postgres-layout.ts';
import { reasonOf, redactedUrl } from '../shared/server-errors.ts';
import { isUnavailable } from './postgres-errors.ts';
import { mayCreateRoles, roleDdlOf, serviceRoleOf, urlAs } from './postgres-roles.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';
import { Outage, type OutageLog } from '../shared/outage.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; the usual PG* variables fill what it leaves out. */
  url: string;
  /** Schemas made at start (each service's); others are made on first use. */
  schemas?: readonly string[];
  /** Put before every schema name: lets tests and several apps share one database. @default '' */
  schemaPrefix?: string;
  /** Most connections this process holds. @default 4 */
  poolMax?: number;
  /** A statement, or a connection attempt, that takes longer fails with StoreUnavailableError. @default 5000 */
  timeoutMs?: number;
  log?: OutageLog & { debug(obj: object, msg: string): void };
  /**
   * Make a role per schema in `schemas`, where the URL's role may create roles
   * (postgres-roles.ts); `urlFor` then gives each service's URL. @default false
   */
  serviceRoles?: boolean;
}

// Advisory-lock key for DDL: two processes creating one schema at once would otherwise race
// on the catalog (a unique violation from `CREATE SCHEMA IF NOT EXISTS`).
const DDL_LOCK = 0x636c_6576; // "clev"
const INSUFFICIENT_PRIVILEGE = '42501';

interface Table {
  /** The table as SQL names it. */
  sql: string;
  /** A short name for its prepared statements. */
  id: string;
}

interface Row {
  key: string;
  value: unknown;
  version: number;
}

const postgres = loadOnUse<typeof import('pg')>('pg');

export class PostgresStore implements StoreBackend {
  readonly #options: PostgresStoreOptions;
  readonly #prefix: string;
  #pool: pg.Pool | undefined;
  /** schema -> its DDL, run once per process. */
  readonly #ready = new Map<string, Promise<void>>();
  readonly #outage: Outage | undefined;
  readonly #tables = new Map<string, Table>();
  /** Whether each service has a role of its own (serviceRoles, and the URL's role may create roles). */
  #rolesMade = false;

  constructor(options: PostgresStoreOptions) {
    this.#options = options;
    this.#prefix = options.schemaPrefix ?? '';
    const { log } = options;
    this.#outage =
      log &&
      new Outage(
        log,
        { store: redactedUrl(options.url) },
        {
          failedMessage: 'PostgreSQL unreachable; store calls are answered 503 until it is back',
          resumedMessage: 'PostgreSQL reachable again',
        },
      );
  }

  /** Connects and makes the declared schemas; PostgreSQL unreachable is a StoreUnavailableError. */
  async start(): Promise<void> {
    const timeoutMs = this.#options.timeoutMs ?? 5000;
    const pool = new (postgres().Pool)({
      connectionString: this.#options.url,
      max: this.#options.poolMax ?? 4,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      // A connection whose server vanished without a FIN (a host gone) must not hold a call
      // past the timeout: the client gives up a little after the server would have.
      query_timeout: timeoutMs + 1000,
      keepAlive: true,
      idleTimeoutMillis: 30_000,
      application_name: 'cleave',
    });
    // An idle connection the server closes (a restart) is reported here; without a listener
    // the 'error' event would end the process. The next call takes a new connection.
    // Debug only: a restart closes every idle connection at once, and the outage itself is
    // said once by the first call that fails. (The error holds the whole client: not logged.)
    pool.on('error', (error) =>
      this.#options.log?.debug({ reason: reasonOf(error) }, 'PostgreSQL closed an idle connection'),
    );
    this.#pool = pool;
    try {
      const schemas = this.#options.schemas ?? [];
      // Connect even with nothing to make: a server that is down is said at start, not at the first request.
      if (schemas.length === 0) await pool.query('SELECT 1');
      await Promise.all(schemas.map((schema) => this.#ensure(`${this.#prefix}${schema}`)));
      if (this.#options.serviceRoles && schemas.length > 0) await this.#makeRoles(schemas);
    } catch (error) {
      this.#pool = undefined;
      await pool.end().catch(() => {});
      throw new StoreUnavailableError(
        `cannot use PostgreSQL at ${redactedUrl(this.#options.url)}: ${reasonOf(error)}`,
        { cause: error },
      );
    }
  }

  async stop(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#ready.clear();
    await pool?.end();
  }

  get(collection: string, key: string): Promise<StoredRecord | undefined> {
    return this.#run(collection, async (table, name, pool) => {
      const { rows } = await pool.query<Row>({
        name: `get ${table.id}`,
        text: `SELECT key, value, version FROM ${table.sql} WHERE collection = $1 AND key = $2`,
        values: [name, key],
      });
      return rows[0] && recordOf(rows[0]);
    });
  }

  put(collection: string, key: string, value: unknown, options: PutOptions = {}): Promise<StoredRecord> {
    const json = JSON.stringify(value) ?? 'null';
    const { ifVersion } = options;
    return this.#run(collection, async (table, name, pool) => {
      let written: Row | undefined;
      if (ifVersion === undefined) {
        ({
          rows: [written],
        } = await pool.query<Row>({
          name: `put ${table.id}`,
          text: `INSERT INTO ${table.sql} AS r (collection, key, value, version) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (collection, key) DO UPDATE SET value = EXCLUDED.value, version = r.version + 1
                 RETURNING key, value, version`,
          values: [name, key, json],
        }));
      } else if (ifVersion === 0) {
        ({
          rows: [written],
        } = await pool.query<Row>({
          name: `create ${table.id}`,
          text: `INSERT INTO ${table.sql} (collection, key, value, version) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (collection, key) DO NOTHING RETURNING key, value, version`,
          values: [name, key, json],
        }));
      } else {
        ({
          rows: [written],
        } = await pool.query<Row>({
          name: `replace ${table.id}`,
          text: `UPDATE ${table.sql} SET value = $3, version = version + 1
                 WHERE collection = $1 AND key = $2 AND version = $4 RETURNING key, value, version`,
          values: [name, key, json, ifVersion],
        }));
      }
      if (written === undefined) throw await this.#conflict(table, collection, name, key, ifVersion!);
      return recordOf(written);
    });
  }

  delete(collection: string, key: string, options: PutOptions = {}): Promise<boolean> {
    const { ifVersion } = options;
    return this.#run(collection, async (table, name, pool) => {
      if (ifVersion === 0) {
        // "Must not exist": nothing to delete, and a record that does exist is the conflict.
        const actual = await versionOf(pool, table, name, key);
        if (actual !== 0) throw new StoreConflictError(collection, key, 0, actual);
        return false;
      }
      const { rowCount } = await pool.query({
        name: ifVersion === undefined ? `delete ${table.id}` : `delete-if ${table.id}`,
        text:
          `DELETE FROM ${table.sql} WHERE collection = $1 AND key = $2` +
          (ifVersion === undefined ? '' : ' AND version = $3'),
        values: ifVersion === undefined ? [name, key] : [name, key, ifVersion],
      });
      if (rowCount === 0 && ifVersion !== undefined) {
        throw await this.#conflict(table, collection, name, key, ifVersion);
      }
      return rowCount !== 0;
    });
  }

  async list(collection: string, options: ListOptions = {}): Promise<StoredRecord[]> {
    checkListOptions(options);
    const { prefix = '', limit, after } = options;
    if (limit === 0) return [];
    // One range on the primary key: from the prefix (or past `after`) to the prefix's end.
    const from = after !== undefined && after >= prefix ? after : prefix;
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    return this.#run(collection, async (table, name, pool) => {
      // Written out per case rather than with ORs, so each is one index range.
      const start = from === after ? '>' : '>=';
      const { rows } = await pool.query<Row>({
        name: `list${start}${end === undefined ? '' : '<'} ${table.id}`,
        text: `SELECT key, value, version FROM ${table.sql}
               WHERE collection = $1 AND key ${start} $2 ${end === undefined ? '' : 'AND key < $4'}
               ORDER BY key LIMIT $3`,
        values: end === undefined ? [name, from, limit ?? null] : [name, from, limit ?? null, end],
      });
      return rows.map(recordOf);
    });
  }

  /** Runs `work` on the collection's table, made first if this process hasn't yet. */
  async #run<T>(collection: string, work: (table: Table, name: string, pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = this.#pool;
    if (pool === undefined) throw new StoreUnavailableError('the PostgreSQL store is not started');
    const { schema, name }: Placement = placementOf(collection, this.#prefix);
    try {
      await this.#ensure(schema);
      const result = await work(this.#tableOf(schema), name, pool);
      this.#outage?.succeeded();
      return result;
    } catch (error) {
      throw this.#translated(error);
    }
  }

  #tableOf(schema: string): Table {
    let table = this.#tables.get(schema);
    if (table === undefined) {
      // Prepared statements are named by a short id: a name past 63 bytes would be cut by the
      // server, and two long schemas' statements would then collide.
      table = { sql: `${quoted(schema)}.records`, id: `t${this.#tables.size}` };
      this.#tables.set(schema, table);
    }
    return table;
  }

  #ensure(schema: string): Promise<void> {
    let ready = this.#ready.get(schema);
    if (ready === undefined) {
      ready = this.#createSchema(schema);
      this.#ready.set(schema, ready);
      // A failed attempt (the server was down) is tried again by the next call.
      ready.catch(() => this.#ready.delete(schema));
    }
    return ready;
  }

  /**
   * The URL the replicas of `service` use: its own role's when roles were made, else the
   * store's own.
   */
  urlFor(service: string): string {
    if (!this.#rolesMade) return this.#options.url;
    return urlAs(this.#options.url, serviceRoleOf(this.#options.url, `${this.#prefix}${service}`));
  }

  async #makeRoles(services: readonly string[]): Promise<void> {
    await this.#underDdlLock(async (client) => {
      if (!(await mayCreateRoles(client))) return;
      for (const service of services) {
        const schema = `${this.#prefix}${service}`;
        await client.query(roleDdlOf(schema, serviceRoleOf(this.#options.url, schema)));
      }
      this.#rolesMade = true;
    });
  }

  async #createSchema(schema: string): Promise<void> {
    try {
      await this.#underDdlLock((client) => client.query(ddlOf(schema)));
    } catch (error) {
      // A service's own role may not create schemas: the supervisor made its schema already.
      if ((error as { code?: string }).code === INSUFFICIENT_PRIVILEGE && (await this.#tableExists(schema))) return;
      throw error;
    }
  }

  async #tableExists(schema: string): Promise<boolean> {
    const result = await this.#pool!.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [
      `${quoted(schema)}.records`,
    ]);
    return result.rows[0]?.found != null;
  }

  async #underDdlLock(work: (client: pg.PoolClient) => Promise<unknown>): Promise<void> {
    const client = await this.#pool!.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
      await work(client);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      // The connection may be mid-transaction or broken: never back into the pool.
      client.release(true);
      throw error;
    }
  }

  async #conflict(
    table: Table,
    collection: string,
    name: string,
    key: string,
    expected: number,
  ): Promise<StoreConflictError> {
    return new StoreConflictError(collection, key, expected, await versionOf(this.#pool!, table, name, key));
  }

  #translated(error: unknown): unknown {
    if (error instanceof StoreConflictError || !isUnavailable(error)) return error;
    this.#outage?.failed(error, 1);
    // The client learns what and when, not where: the address is in the outage's log line.
    return new StoreUnavailableError('the store cannot be reached; try again shortly', {
      cause: error,
      retryAfterSeconds: 1,
    });
  }
}

async function versionOf(pool: pg.Pool, table: Table, name: string, key: string): Promise<number> {
  const { rows } = await pool.query<{ version: number }>({
    name: `version ${table.id}`,
    text: `SELECT version FROM ${table.sql} WHERE collection = $1 AND key = $2`,
    values: [name, key],
  });
  return rows[0]?.version ?? 0;
}

function recordOf(row: Row): StoredRecord {
  return { key: row.key, value: row.value, version: row.version };
}
