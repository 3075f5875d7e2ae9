import assert from 'node:assert/strict';
import { it } from 'node:test';
import { crc32, crc32Hex, crc32Portable } from './crc32.ts';

it('computes the standard CRC-32 check value, natively or not', () => {
  assert.equal(crc32('123456789'), 0xcbf43926);
  assert.equal(crc32Portable('123456789'), 0xcbf43926);
  const text = 'ünïcode 🔑 {"seq":1}';
  assert.equal(crc32Portable(text), crc32(text));
  assert.equal(crc32Portable(Buffer.from(text)), crc32(Buffer.from(text)));
  assert.equal(crc32Hex(''), '00000000');
});
