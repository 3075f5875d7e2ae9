// Answers given before the request's body was read — 413 on a declared size, 401 before an
// auth route reads anything — must reach the client whole, and a connection the answer
// said it would keep must stay usable (issue 12, item 1). The client here is the worst
// kind: it writes its whole body whatever the server says, as curl and many SDKs do.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Exchange {
  first: Answer | undefined;
  /** The answer to a GET sent on the same connection, when the first answer kept it. */
  second: Answer | undefined;
  /** How the connection ended: 'end' is the server's FIN, an error code is a reset. */
  ending: string;
}

const TWO_MIB = 2 * 1024 * 1024;

/** Reads one HTTP/1.1 answer with a Content-Length off the front of `buffer`. */
function parseAnswer(buffer: Buffer): { answer: Answer; rest: Buffer } | undefined {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buffer.length < headEnd + 4 + length) return undefined;
  const body = buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  return { answer: { status, headers, body }, rest: buffer.subarray(headEnd + 4 + length) };
}

/**
 * Sends `head`, then `bodySize` bytes of JSON-ish filler (chunked when `chunked`), all of it,
 * and, if the answer kept the connection, a GET on it. Bounded: gives up after 10 s.
 */
function sendWholeBody(port: number, head: string, bodySize: number, chunked = false): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const result: Exchange = { first: undefined, second: undefined, ending: 'open' };
    let received: Buffer = Buffer.alloc(0);
    let bodyWritten = false;
    let secondSent = false;
    const finish = () => {
      clearTimeout(giveUp);
      socket.destroy();
      resolve(result);
    };
    const giveUp = setTimeout(finish, 10_000);
    const sendSecondIfKept = () => {
      if (secondSent || !bodyWritten || result.first === undefined) return;
      if (result.first.headers.connection?.toLowerCase() === 'close') return;
      secondSent = true;
      socket.write('GET /pid HTTP/1.1\r\nHost: x\r\n\r\n');
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseAnswer(received);
      if (parsed === undefined) return;
      received = parsed.rest;
      if (result.first === undefined) {
        result.first = parsed.answer;
        sendSecondIfKept();
      } else {
        result.second = parsed.answer;
        finish();
      }
    });
    socket.on('end', () => {
      result.ending = 'end';
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      result.ending = error.code ?? error.message;
      finish();
    });
    socket.write(head);
    const piece = Buffer.alloc(64 * 1024, 'a');
    let left = bodySize;
    const writeMore = (): void => {
      while (left > 0 && !socket.destroyed) {
        const size = Math.min(left, piece.length);
        left -= size;
        const bytes = piece.subarray(0, size);
        const framed = chunked
          ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), bytes, Buffer.from('\r\n')])
          : bytes;
        if (left === 0 && chunked) socket.write(Buffer.concat([framed, Buffer.from('0\r\n\r\n')]));
        else if (!socket.write(framed)) return void socket.once('drain', writeMore);
        else if (left === 0) break;
      }
      if (left === 0 && !bodyWritten) {
        bodyWritten = true;
        sendSecondIfKept();
      }
    };
    writeMore();
  });
}

/**
 * What the user relies on: the whole answer, then either the kept connection serving the next
 * request or a FIN (never a reset) on one the answer said would close.
 */
function assertAnsweredCleanly(exchange: Exchange, status: number, expect: 'kept' | 'closed'): void {
  assert.equal(exchange.first?.status, status, `answer read: ${JSON.stringify(exchange)}`);
  assert.match(exchange.first.body, /^\{"error":\{"code":"CLEAVE_[A-Z_]+"/);
  const kept = exchange.first.headers.connection?.toLowerCase() !== 'close';
  assert.equal(kept ? 'kept' : 'closed', expect, 'what the answer says of the connection');
  if (kept) {
    assert.equal(exchange.second?.status, 200, `the kept connection answers its next request: ${exchange.ending}`);
    assert.match(exchange.second.body, /"pid":\d+/);
  } else {
    assert.equal(exchange.ending, 'end', 'a connection said to close is closed with a FIN after the answer');
  }
}

for (const mode of ['start', 'dev'] as const) {
  describe(`early answers (cleave ${mode})`, { timeout: 90_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      app = await startCleave([mode, 'test/fixtures/replicated'], { CLEAVE_RATE_LIMIT: 'off' });
    });
    after(async () => {
      assert.equal(await app.stop(), 0);
    });

    it('a 413 on a declared 2 MiB body reaches the client, and the connection stays usable if kept', async () => {
      for (let run = 0; run < 5; run++) {
        const exchange = await sendWholeBody(
          app.port,
          `PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${TWO_MIB}\r\n\r\n`,
          TWO_MIB,
        );
        assertAnsweredCleanly(exchange, 413, 'kept');
      }
    });

    it('a 401 before an auth route reads its 2 MiB body reaches the client the same way', async () => {
      for (let run = 0; run < 5; run++) {
        const exchange = await sendWholeBody(
          app.port,
          `POST /private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-token\r\nContent-Type: application/json\r\nContent-Length: ${TWO_MIB}\r\n\r\n`,
          TWO_MIB,
        );
        assertAnsweredCleanly(exchange, 401, 'kept');
      }
    });

    it('a 413 on a declared 16 MiB body, too much to read off, closes gracefully after the answer', async () => {
      for (let run = 0; run < 3; run++) {
        const exchange = await sendWholeBody(
          app.port,
          `PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${8 * TWO_MIB}\r\n\r\n`,
          8 * TWO_MIB,
        );
        assertAnsweredCleanly(exchange, 413, 'closed');
      }
    });

    it('a chunked body over the limit gets its 413 and a graceful close', async () => {
      for (let run = 0; run < 3; run++) {
        const exchange = await sendWholeBody(
          app.port,
          'PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
          8 * TWO_MIB,
          true,
        );
        assertAnsweredCleanly(exchange, 413, 'closed');
      }
    });

    it('fetch always reads the 413 for a 2 MiB upload', async () => {
      const body = Buffer.alloc(TWO_MIB, 'a');
      for (let run = 0; run < 10; run++) {
        const res = await fetch(`${app.url}/kv/big`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 413);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_BODY_TOO_LARGE');
      }
    });
  });
}
