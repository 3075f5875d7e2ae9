import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { until } from '../../test/helpers/wait.ts';
import { CallConnection } from './call-connection.ts';
import { encodeFrame, FrameReader, MAX_FRAME_BYTES } from './frames.ts';

describe('call frames', () => {
  it('reads frames whatever the chunks: split mid-frame, several in one chunk', () => {
    const bytes = Buffer.concat([
      encodeFrame({ i: 1, o: 'é' }),
      encodeFrame({ i: 2, o: [1, 2] }),
      encodeFrame({ i: 3 }),
    ]);
    const reader = new FrameReader();
    const messages: unknown[] = [];
    for (let at = 0; at < bytes.length; at += 3) messages.push(...reader.push(bytes.subarray(at, at + 3)));
    assert.deepEqual(messages, [{ i: 1, o: 'é' }, { i: 2, o: [1, 2] }, { i: 3 }]);
  });

  it('refuses a frame over the limit before reading it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    assert.throws(() => new FrameReader().push(header), RangeError);
  });
});

describe('CallConnection', () => {
  it('fails calls with the socket’s own code when nothing listens (nothing reached a replica)', async () => {
    const connection = new CallConnection(join(tmpdir(), 'cleave-no-such-replica.sock.calls'));
    await assert.rejects(connection.call({ a: 'x.y', r: 'r', d: 1000 }).answer, { code: 'ENOENT' });
  });

  it('closes when idle only after the calls in flight have their answers (a replica leaving)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cleave-frames-'));
    const path = join(dir, 'r.sock.calls');
    let closed = false;
    let received = false;
    const server = createServer((socket) => {
      socket.on('close', () => (closed = true));
      socket.on('data', (chunk: Buffer) => {
        for (const call of new FrameReader().push(chunk) as Array<{ i: number }>) {
          received = true;
          // Answered a while after closeWhenIdle(), as a replica finishing its work.
          setTimeout(() => socket.write(encodeFrame({ i: call.i, o: 'late but answered' })), 50);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const connection = new CallConnection(path);
      const pending = connection.call({ a: 'x.y', r: 'r', d: 1000 }).answer;
      await until(() => (received ? true : undefined), 2000, 'the call reached the replica', 5);
      connection.closeWhenIdle();
      assert.deepEqual(await pending, { i: 1, o: 'late but answered' });
      await until(() => (closed ? true : undefined), 2000, 'then the connection is closed', 5);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails its calls in flight with ECONNRESET when the replica goes away mid-call, then reconnects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cleave-frames-'));
    const path = join(dir, 'r.sock.calls');
    let first = true;
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        for (const call of new FrameReader().push(chunk) as Array<{ i: number }>) {
          if (first) {
            first = false;
            socket.destroy(); // dies with the call in flight
          } else {
            socket.write(encodeFrame({ i: call.i, o: 'ok' }));
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const connection = new CallConnection(path);
      await assert.rejects(connection.call({ a: 'x.y', r: 'r', d: 1000 }).answer, { code: 'ECONNRESET' });
      assert.deepEqual(await connection.call({ a: 'x.y', r: 'r', d: 1000 }).answer, { i: 2, o: 'ok' });
      connection.close();
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
