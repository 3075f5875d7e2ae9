import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LogRelay, type LogRelayOptions } from './log-relay.ts';

const TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
const ISO = new Date(TIME).toISOString();

/** A destination that records each write(), so a test sees what went out in one piece. */
function destination() {
  const writes: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString());
      callback();
    },
  });
  const lines = (): string[] => writes.join('').split('\n').slice(0, -1);
  return { out, writes, lines };
}

function relay(options: Partial<LogRelayOptions> = {}) {
  const dest = destination();
  const logs = new LogRelay(dest.out, { tags: { service: 'posts', replica: 2 }, now: () => TIME, ...options });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const done = logs.relay({ stdout, stderr });
  return { ...dest, stdout, stderr, done };
}

describe('LogRelay', () => {
  it('splices the tags into a JSON line without re-serialising it', async () => {
    const { stdout, stderr, done, lines } = relay();
    stdout.end('{"level":"info","msg":"hi","n":1.50}\n');
    stderr.end();
    await done;
    // 1.50 stays as written: the line was never parsed.
    assert.deepEqual(lines(), ['{"service":"posts","replica":2,"level":"info","msg":"hi","n":1.50}']);
    assert.deepEqual(JSON.parse(lines()[0]!), { service: 'posts', replica: 2, level: 'info', msg: 'hi', n: 1.5 });
  });

  it("leaves out a tag the line already has: the child's own field wins", async () => {
    const { stdout, stderr, done, lines } = relay();
    stdout.end('{"level":"info","service":"users","msg":"GET /u"}\n{"replica":9,"service":"x"}\n{}\n');
    stderr.end();
    await done;
    assert.deepEqual(lines(), [
      '{"replica":2,"level":"info","service":"users","msg":"GET /u"}',
      '{"replica":9,"service":"x"}',
      '{"service":"posts","replica":2}',
    ]);
  });

  it('is not fooled by a tag name inside a string value', async () => {
    const { stdout, stderr, done, lines } = relay();
    stdout.end(`${JSON.stringify({ msg: 'body was {"service":"x"}' })}\n`);
    stderr.end();
    await done;
    assert.deepEqual(JSON.parse(lines()[0]!), { service: 'posts', replica: 2, msg: 'body was {"service":"x"}' });
  });

  it('wraps plain lines as info, inspect output as info, and every stderr line as error', async () => {
    const { stdout, stderr, done, lines } = relay();
    stdout.end('listening "soon"\n{ a: 1 }\n\n');
    stderr.end('{"level":"info","msg":"json on stderr"}\nError: boom\n    at x (file.ts:1:1)\n');
    await done;
    const entries = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    const tags = { service: 'posts', replica: 2 };
    assert.deepEqual(
      entries.filter((entry) => entry.level === 'info'),
      [
        { level: 'info', time: ISO, ...tags, msg: 'listening "soon"' },
        { level: 'info', time: ISO, ...tags, msg: '{ a: 1 }' },
      ],
    );
    assert.deepEqual(
      entries.filter((entry) => entry.level === 'error').map((entry) => entry.msg),
      ['{"level":"info","msg":"json on stderr"}', 'Error: boom', '    at x (file.ts:1:1)'],
    );
  });

  it('writes whole lines only, one write per chunk, holding a partial line for the next', async () => {
    const { stdout, stderr, done, writes } = relay({ tags: { replica: 1 } });
    stdout.write('{"a":1}\n{"b":2}\n{"c":');
    await new Promise(setImmediate);
    assert.deepEqual(writes, ['{"replica":1,"a":1}\n{"replica":1,"b":2}\n']);
    stdout.end('3}\n{"no newline":true}');
    stderr.end();
    await done;
    assert.deepEqual(writes.slice(1), ['{"replica":1,"c":3}\n', '{"replica":1,"no newline":true}\n']);
  });

  it('wraps a line cut at the cap, marked truncated', async () => {
    const { stdout, stderr, done, lines } = relay({ maxLineBytes: 16 });
    stdout.end(`{"msg":"${'x'.repeat(100)}"}\n{"ok":1}\n`);
    stderr.end();
    await done;
    assert.deepEqual(
      lines().map((line) => JSON.parse(line) as unknown),
      [
        { level: 'info', time: ISO, service: 'posts', replica: 2, msg: '{"msg":"xxxxxxxx', truncated: true },
        { service: 'posts', replica: 2, ok: 1 },
      ],
    );
  });

  it('pauses the children while the destination is full, with one drain listener for all', async () => {
    // A destination that takes each write only when the test lets it.
    const held: Array<() => void> = [];
    const written: string[] = [];
    const out = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        held.push(callback);
      },
    });
    const children = Array.from({ length: 12 }, () => ({ stdout: new PassThrough(), stderr: new PassThrough() }));
    const done = Promise.all(children.map((child) => new LogRelay(out, { tags: { replica: 0 } }).relay(child)));
    for (const child of children) child.stdout.write('{"a":1}\n');
    await new Promise(setImmediate);
    assert.ok(children.every((child) => child.stdout.isPaused()));
    assert.equal(out.listenerCount('drain'), 1);
    while (held.length > 0) {
      held.shift()!();
      await new Promise(setImmediate);
    }
    assert.ok(children.every((child) => !child.stdout.isPaused()));
    assert.equal(out.listenerCount('drain'), 0);
    for (const child of children) {
      child.stdout.end();
      child.stderr.end();
    }
    await done;
    assert.equal(written.length, 12);
  });
});
