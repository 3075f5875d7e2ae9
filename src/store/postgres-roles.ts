// A PostgreSQL role per service, where the URL's role may create roles: each service's
// replicas then log in as a role that can use only its own schema, so the database itself
// keeps one service out of another's data (database per service), not only cleave's API.
//
// The role is `<database>_<schema>` (role names are the whole server's, schemas the
// database's). Its password is derived from the URL's own password, which only the
// supervisor (and whoever holds the URL) has: every node derives the same one without
// storing it anywhere, and a replica, given only its service's URL, can derive no other.

import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { quoted } from './postgres-layout.ts';

/** PostgreSQL cuts identifiers at 63 bytes; a longer role would silently be another. */
const MAX_IDENTIFIER_BYTES = 63;

export interface ServiceRole {
  role: string;
  password: string;
}

export function serviceRoleOf(url: string, schema: string): ServiceRole {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || 'postgres';
  const role = `${database}_${schema}`;
  if (Buffer.byteLength(role) > MAX_IDENTIFIER_BYTES) {
    throw new TypeError(`store role "${role}" is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  // Without a password in the URL (trust or peer auth, a .pgpass) the URL itself is the key.
  const key = decodeURIComponent(parsed.password) || url;
  return { role, password: createHmac('sha256', key).update(`cleave store role ${role}`).digest('base64url') };
}

/** The URL with the service's role and password in place of the URL's own. */
export function urlAs(url: string, { role, password }: ServiceRole): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(role);
  parsed.password = password;
  return parsed.toString();
}

/** Whether the connection's role may create roles (a superuser may). */
export async function mayCreateRoles(client: pg.PoolClient): Promise<boolean> {
  const result = await client.query<{ may: boolean }>(
    'SELECT rolcreaterole OR rolsuper AS may FROM pg_roles WHERE rolname = current_user',
  );
  return result.rows[0]?.may === true;
}

/**
 * Makes the role (or sets its password again: the URL's may have changed) and gives it the
 * use of its schema's records and nothing else: no schema may be created, no other schema is
 * granted. Run under the DDL lock, after the schema's own DDL.
 */
export function roleDdlOf(schema: string, { role, password }: ServiceRole): string {
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
  // The password is base64url: no character a literal needs escaped, nor a dollar quote.
  return `DO $role$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(role)}) THEN
    CREATE ROLE ${quoted(role)} LOGIN PASSWORD ${literal(password)};
  ELSE
    ALTER ROLE ${quoted(role)} LOGIN PASSWORD ${literal(password)};
  END IF;
END $role$;
GRANT USAGE ON SCHEMA ${quoted(schema)} TO ${quoted(role)};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${quoted(schema)}.records TO ${quoted(role)}`;
}
