// Where a collection's records live in PostgreSQL: each service's collections in a schema of
// its own (database per service), one table of records per schema. A collection name is
// `service/name` (the runtime namespaces every collection so); a name without a service goes
// to a schema named `cleave`. One table per schema rather than per collection keeps a
// collection's name free of SQL's identifier rules and makes creating one cost nothing.

const DEFAULT_SCHEMA = 'cleave';
/** PostgreSQL cuts identifiers at 63 bytes; a longer one would silently name another schema. */
const MAX_IDENTIFIER_BYTES = 63;

export interface Placement {
  schema: string;
  /** The collection's name inside its schema. */
  name: string;
}

export function placementOf(collection: string, schemaPrefix: string): Placement {
  const slash = collection.indexOf('/');
  const service = slash === -1 ? DEFAULT_SCHEMA : collection.slice(0, slash);
  const name = slash === -1 ? collection : collection.slice(slash + 1);
  const schema = `${schemaPrefix}${service}`;
  if (Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES) {
    throw new TypeError(`store schema "${schema}" is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return { schema, name };
}

/** A schema name as a quoted identifier: the name is the app's, any character allowed. */
export function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** Creates the schema and its table if missing; safe to run from many processes at once (under a lock). */
export function ddlOf(schema: string): string {
  const table = `${quoted(schema)}.records`;
  // COLLATE "C": keys order by code point, as every other adapter lists them, whatever the
  // database's locale; and a prefix scan is a plain range on the primary key.
  return `CREATE SCHEMA IF NOT EXISTS ${quoted(schema)};
CREATE TABLE IF NOT EXISTS ${table} (
  collection text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value json NOT NULL,
  version integer NOT NULL,
  PRIMARY KEY (collection, key)
)`;
}

/**
 * The least string greater than every string starting with `prefix`, in code-point order
 * (which is UTF-8 byte order, the "C" collation's): a list by prefix is then one index range,
 * `prefix <= key < end`. Undefined when no such string exists (a prefix of only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (points.length > 0) {
    let last = points.pop()! + 1;
    if (last === 0xd800) last = 0xe000; // lone surrogates are no characters of a stored key
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return undefined;
}
