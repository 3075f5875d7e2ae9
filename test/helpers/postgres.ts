// A database of its own for a test file, on the machine's real PostgreSQL (CI starts it), and
// dropped afterwards, so test files running at once never see each other's schemas.

import pg from 'pg';

/** The server tests use; CLEAVE_TEST_POSTGRES_URL points them elsewhere. */
export const POSTGRES_URL = process.env.CLEAVE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `cleave_${label}_${process.pid}_${Date.now().toString(36)}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    name,
    // FORCE: a process a test killed may still hold a connection. Then the roles cleave made
    // for its services (`<database>_<service>`), which outlive a database.
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin(`DO $drop$ DECLARE role text; BEGIN
        FOR role IN SELECT rolname FROM pg_roles WHERE starts_with(rolname, '${name}_') LOOP
          EXECUTE format('DROP ROLE %I', role);
        END LOOP;
      END $drop$`);
    },
  };
}

/** Runs one statement on the test database's server as the admin URL's role. */
export async function admin(sql: string, url = POSTGRES_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
