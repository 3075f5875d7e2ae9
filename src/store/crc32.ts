// CRC-32 (IEEE) for the file store's log lines. A CRC rather than a cryptographic hash: the
// job is catching torn writes and bit rot, not tampering, and it costs 8 hex characters a line.
// zlib computes it natively from Node 20.15 / 22.2; older Node 20 releases (engines allows
// >= 20.6) get the table-driven version below, which yields identical values, so a log
// written under one Node version reads back under another.

import * as zlib from 'node:zlib';

type Crc32 = (data: string | Uint8Array) => number;

// Looked up at run time: @types/node declares crc32 even for Node versions that lack it.
const nativeCrc32 = (zlib as { crc32?: Crc32 }).crc32;

let table: Int32Array | undefined;

function buildTable(): Int32Array {
  const built = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    built[n] = c;
  }
  return built;
}

function portableCrc32(data: string | Uint8Array): number {
  table ??= buildTable();
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = -1;
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export const crc32: Crc32 = typeof nativeCrc32 === 'function' ? nativeCrc32 : portableCrc32;

/** The CRC as the fixed-width lowercase hex that prefixes every log line. */
export function crc32Hex(data: string | Uint8Array): string {
  return crc32(data).toString(16).padStart(8, '0');
}

export { portableCrc32 as crc32Portable };
