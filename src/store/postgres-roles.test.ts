// A role per service on the machine's real PostgreSQL: made where the URL's role may create
// roles (the tests' role is a superuser), able to use its own schema only; not made where it
// may not, every service then using the URL's role.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { admin, createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.ts';
import { PostgresStore } from './postgres.ts';

describe('PostgresStore roles per service', () => {
  let database: TestDatabase;
  const stores: PostgresStore[] = [];
  before(async () => {
    database = await createTestDatabase('roles');
  });
  after(async () => {
    await Promise.all(stores.map((store) => store.stop()));
    await database.drop();
  });

  async function opened(url: string, schemas: string[], serviceRoles = false): Promise<PostgresStore> {
    const store = new PostgresStore({ url, schemas, serviceRoles, timeoutMs: 2000 });
    await store.start();
    stores.push(store);
    return store;
  }

  it('gives each service a role of its own that reaches its own schema and no other', async () => {
    const supervisor = await opened(database.url, ['posts', 'auth'], true);
    const postsUrl = new URL(supervisor.urlFor('posts'));
    assert.equal(decodeURIComponent(postsUrl.username), `${database.name}_posts`);
    assert.notEqual(postsUrl.password, '', 'a password derived for it');
    assert.equal(supervisor.urlFor('posts'), supervisor.urlFor('posts'), 'the same on every node');

    const roles = await admin(
      `SELECT rolname, rolcanlogin, rolcreaterole, rolcreatedb, rolsuper FROM pg_roles
       WHERE starts_with(rolname, '${database.name}_') ORDER BY rolname`,
    );
    assert.deepEqual(
      roles.rows.map((row: Record<string, unknown>) => [
        row.rolname,
        row.rolcanlogin,
        row.rolcreaterole,
        row.rolcreatedb,
        row.rolsuper,
      ]),
      [
        [`${database.name}_auth`, true, false, false, false],
        [`${database.name}_posts`, true, false, false, false],
      ],
    );

    // A replica of posts: its schema exists already, which its role may not create.
    const posts = await opened(supervisor.urlFor('posts'), ['posts']);
    await posts.put('posts/notes', 'p1', { text: 'hello' });
    assert.deepEqual((await posts.get('posts/notes', 'p1'))?.value, { text: 'hello' });
    await supervisor.put('auth/accounts', 'alice', { passwordHash: 'x' });
    await assert.rejects(posts.get('auth/accounts', 'alice'), (error: { code?: string }) => error.code === '42501');
    await assert.rejects(
      posts.put('auth/accounts', 'mallory', {}),
      (error: { code?: string }) => error.code === '42501',
    );
    await assert.rejects(posts.get('other/things', 'x'), 'no schema may be made by a service role');
  });

  it('makes no role where the URL’s role may not create roles: every service uses that role', async () => {
    const plain = `${database.name}_plain`;
    await admin(`CREATE ROLE ${plain} LOGIN`);
    await admin(`GRANT CREATE ON DATABASE ${database.name} TO ${plain}`);
    const url = new URL(database.url);
    url.username = plain;
    const store = await opened(url.href, ['chat'], true);
    assert.equal(store.urlFor('chat'), url.href);
    const made = await admin(`SELECT 1 FROM pg_roles WHERE rolname = '${database.name}_chat'`);
    assert.equal(made.rowCount, 0);
    await store.put('chat/messages', 'm1', { text: 'hi' });
    assert.deepEqual((await store.get('chat/messages', 'm1'))?.value, { text: 'hi' });
  });
});
