import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { StoreConflictError, StoreUnavailableError } from '../errors.ts';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.ts';
import { cutProxyFor } from '../../test/helpers/cut-proxy.ts';
import { coalesceReads } from './coalesce.ts';
import { storeContract } from './contract.ts';
import { PostgresStore } from './postgres.ts';

let database: TestDatabase;
let stores = 0;
before(async () => {
  database = await createTestDatabase('store');
});
after(() => database.drop());

/** A store in a schema namespace of its own, so each test starts empty. */
function freshStore(options: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {}): PostgresStore {
  return new PostgresStore({ url: database.url, schemaPrefix: `s${++stores}_`, ...options });
}

storeContract('PostgresStore', async () => freshStore());
storeContract('PostgresStore behind coalesceReads', async () => coalesceReads(freshStore()));

describe('PostgresStore', { timeout: 30_000 }, () => {
  it("keeps each service's collections in a schema of its own, made at start", async () => {
    const store = freshStore({ schemaPrefix: 'layout_', schemas: ['posts', 'auth'] });
    await store.start();
    try {
      await store.put('posts/items', 'a', { title: 'hello' });
      await store.put('auth/accounts', 'a', { name: 'ada' });
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client.query(
        `SELECT table_schema, table_name FROM information_schema.tables
         WHERE table_schema LIKE 'layout\\_%' ORDER BY table_schema`,
      );
      const items = await client.query(`SELECT collection, key, value::text, version FROM layout_posts.records`);
      await client.end();
      assert.deepEqual(rows, [
        { table_schema: 'layout_auth', table_name: 'records' },
        { table_schema: 'layout_posts', table_name: 'records' },
      ]);
      assert.deepEqual(items.rows, [{ collection: 'items', key: 'a', value: '{"title":"hello"}', version: 1 }]);
    } finally {
      await store.stop();
    }
  });

  it('lets two processes on one database share records, and only one of two racing writes win', async () => {
    const prefix = `shared${++stores}_`;
    const [a, b] = [freshStore({ schemaPrefix: prefix }), freshStore({ schemaPrefix: prefix })];
    await Promise.all([a.start(), b.start()]);
    try {
      await a.put('posts/items', 'k', 'from a');
      assert.deepEqual(await b.get('posts/items', 'k'), { key: 'k', value: 'from a', version: 1 });
      const results = await Promise.allSettled([
        a.put('posts/items', 'k', 'a wins', { ifVersion: 1 }),
        b.put('posts/items', 'k', 'b wins', { ifVersion: 1 }),
      ]);
      assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      const loser = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
      assert.ok(loser.reason instanceof StoreConflictError);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('makes the same schemas from many processes starting at once', async () => {
    const prefix = `race${++stores}_`;
    const many = Array.from({ length: 6 }, () =>
      freshStore({ schemaPrefix: prefix, schemas: ['posts', 'auth', 'chat'] }),
    );
    try {
      await Promise.all(many.map((store) => store.start()));
      await many[0]!.put('chat/rooms', 'r', 1);
      assert.equal((await many[5]!.get('chat/rooms', 'r'))?.value, 1);
    } finally {
      await Promise.all(many.map((store) => store.stop()));
    }
  });

  it('fails to start, in one line without the password, when PostgreSQL is unreachable', async () => {
    const store = new PostgresStore({ url: 'postgres://forum:hunter2@127.0.0.1:1/forum', timeoutMs: 1000 });
    const started = Date.now();
    await assert.rejects(store.start(), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.match(
        error.message,
        /^cannot use PostgreSQL at postgres:\/\/forum:\*\*\*@127\.0\.0\.1:1\/forum: .*ECONNREFUSED/,
      );
      assert.doesNotMatch(error.message, /hunter2|\n/);
      return true;
    });
    assert.ok(Date.now() - started < 1000, 'a refused connection fails at once');
  });

  it('answers 503 at once while PostgreSQL is cut off, and recovers by itself once it is back', async () => {
    const { proxy, url } = await cutProxyFor(database.url, 5432);
    const lines: string[] = [];
    const log = {
      error: (_: object, msg: string) => void lines.push(msg),
      info: (_: object, msg: string) => void lines.push(msg),
      debug: () => {},
    };
    const store = freshStore({ url: url, timeoutMs: 2000, log });
    await store.start();
    try {
      await store.put('posts/items', 'before', 1);
      await proxy.cut();
      for (let n = 0; n < 3; n++) {
        const started = Date.now();
        await assert.rejects(store.get('posts/items', 'before'), (error: unknown) => {
          assert.ok(error instanceof StoreUnavailableError, String(error));
          assert.equal(error.status, 503);
          assert.equal(error.code, 'CLEAVE_STORE_UNAVAILABLE');
          return true;
        });
        assert.ok(Date.now() - started < 1000, `call ${n} failed fast, not after a timeout`);
      }
      await proxy.restore();
      assert.equal((await store.get('posts/items', 'before'))?.value, 1);
      assert.equal((await store.put('posts/items', 'after', 2)).version, 1);
      // Said once per reason (the cut connection, then refused ones), not once per call.
      const unreachable = lines.filter((line) => line.startsWith('PostgreSQL unreachable'));
      assert.ok(unreachable.length >= 1 && unreachable.length <= 2, lines.join('\n'));
      assert.deepEqual(lines.slice(unreachable.length), ['PostgreSQL reachable again']);
    } finally {
      await store.stop();
      await proxy.close();
    }
  });

  it('gives up on a statement past its timeout with a 503, and the pool stays usable', async () => {
    const store = freshStore({ timeoutMs: 300 });
    await store.start();
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      await store.put('posts/items', 'locked', 1);
      const { rows } = await blocker.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 's${stores}\\_%'`);
      const schema = (rows[0] as { nspname: string }).nspname;
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM "${schema}".records WHERE key = 'locked' FOR UPDATE`);
      const started = Date.now();
      await assert.rejects(store.put('posts/items', 'locked', 2), StoreUnavailableError);
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2000, `gave up after ${took} ms`);
      await blocker.query('ROLLBACK');
      assert.equal((await store.put('posts/items', 'locked', 3)).version, 2);
    } finally {
      await blocker.end();
      await store.stop();
    }
  });
});
