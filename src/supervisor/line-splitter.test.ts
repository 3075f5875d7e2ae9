import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter } from './line-splitter.ts';

/** Feeds `chunks` and returns each line as text, `…` marking a truncated one. */
function split(chunks: Array<string | Buffer>, maxLineBytes = 1024, end = true): string[] {
  const splitter = new LineSplitter(maxLineBytes);
  const lines: string[] = [];
  const onLine = (line: Buffer, truncated: boolean): void => void lines.push(line.toString() + (truncated ? '…' : ''));
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), onLine);
  if (end) splitter.end(onLine);
  return lines;
}

describe('LineSplitter', () => {
  it('splits a chunk into lines and keeps empty ones', () => {
    assert.deepEqual(split(['a\nbb\n\nccc\n']), ['a', 'bb', '', 'ccc']);
  });

  it('joins a line that spans several chunks', () => {
    assert.deepEqual(split(['{"msg":', '"hel', 'lo"}\n{"n":1}', '\n']), ['{"msg":"hello"}', '{"n":1}']);
  });

  it('holds a partial line until its end arrives, and emits it at end of stream', () => {
    assert.deepEqual(split(['done\npart'], 1024, false), ['done']);
    assert.deepEqual(split(['done\npart']), ['done', 'part']);
  });

  it('keeps a multi-byte character cut between chunks intact', () => {
    const bytes = Buffer.from('héllo 🌍\n');
    assert.deepEqual(split([bytes.subarray(0, 2), bytes.subarray(2, 8), bytes.subarray(8)]), ['héllo 🌍']);
  });

  it('drops the \\r of a \\r\\n line ending, even when split from its \\n', () => {
    assert.deepEqual(split(['a\r\nb\r', '\nc\n']), ['a', 'b', 'c']);
  });

  it('cuts a long line at the cap and skips the rest of it', () => {
    assert.deepEqual(split(['0123456789\nok\n'], 4), ['0123…', 'ok']);
    // The cap is reached while the line is still pending, across chunks.
    assert.deepEqual(split(['01', '23', '45', '67', '\nok\n'], 4), ['0123…', 'ok']);
    assert.deepEqual(split(['0123\n'], 4), ['0123'], 'exactly at the cap is not truncated');
  });

  it('holds at most the cap in memory for a stream with no newline at all', () => {
    const lines = split(
      Array.from({ length: 1000 }, () => 'x'.repeat(1000)),
      4096,
    );
    assert.deepEqual(lines, [`${'x'.repeat(4096)}…`]);
  });
});
