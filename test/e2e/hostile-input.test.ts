// Requests built to confuse a proxy and the server behind it, sent byte for byte to `cleave
// start` (through the gateway) and to `cleave dev`. Each gets its status, the connection is
// closed wherever the framing can't be trusted, and nothing the gateway refused reaches a
// replica (no replica logs it).

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawRequest } from '../helpers/raw-http.ts';
import { openSocket } from '../helpers/ws-client.ts';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

interface HostileCase {
  name: string;
  bytes: string;
  status: number;
  /** The connection must be closed after the answer. */
  closes: boolean;
  /** Whether a replica may see it (the gateway does not parse bodies, so JSON is the replica's). */
  forwarded?: boolean;
  code?: string;
}

const json = 'Content-Type: application/json\r\n';
const cases: HostileCase[] = [
  {
    name: 'two different Content-Lengths',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    status: 400,
    closes: true,
  },
  {
    name: 'a repeated Content-Length',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`,
    status: 400,
    closes: true,
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    status: 400,
    closes: true,
  },
  {
    name: 'Transfer-Encoding: xchunked',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    status: 400,
    closes: true,
  },
  {
    name: 'two Transfer-Encoding headers',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    status: 400,
    closes: true,
  },
  {
    name: 'a bad chunk size',
    bytes: `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    status: 400,
    closes: true,
  },
  {
    name: 'an oversized header section',
    bytes: `GET /pid HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    closes: true,
  },
  {
    name: 'an oversized URL',
    bytes: `GET /pid?${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 414,
    closes: true,
    code: 'CLEAVE_URI_TOO_LONG',
  },
  {
    name: 'a control byte in a header value',
    bytes: 'GET /pid HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'a bare CR in a header value',
    bytes: 'GET /pid HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'two Host headers',
    bytes: 'GET /pid HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
    status: 400,
    closes: true,
  },
  {
    name: 'a Host that opens an IPv6 literal and never closes it',
    bytes: 'GET /pid HTTP/1.1\r\nHost: [::1\r\n\r\n',
    status: 400,
    closes: true,
    code: 'CLEAVE_BAD_REQUEST',
  },
  {
    name: 'a Host with a space in it',
    bytes: 'GET /pid HTTP/1.1\r\nHost: a b.example\r\n\r\n',
    status: 400,
    closes: true,
    code: 'CLEAVE_BAD_REQUEST',
  },
  {
    name: 'a Host whose port is not a number',
    bytes: 'GET /pid HTTP/1.1\r\nHost: x:80a\r\n\r\n',
    status: 400,
    closes: true,
    code: 'CLEAVE_BAD_REQUEST',
  },
  {
    name: 'a WebSocket upgrade with a malformed Host',
    bytes:
      'GET /ws HTTP/1.1\r\nHost: [::1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    status: 400,
    closes: true,
    code: 'CLEAVE_BAD_REQUEST',
  },
  { name: 'an unknown method', bytes: 'FOO /pid HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, closes: true },
  {
    name: 'an absolute-form target (no open proxy)',
    bytes: 'GET http://evil.example/pid HTTP/1.1\r\nHost: x\r\n\r\n',
    status: 400,
    closes: false,
  },
  { name: 'a //host path', bytes: 'GET //evil.example/pid HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, closes: false },
  { name: 'a backslash path', bytes: 'GET /x/..\\pid HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, closes: false },
  { name: 'an encoded slash', bytes: 'GET /x%2f..%2fpid HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, closes: false },
  {
    name: 'a __proto__ key in JSON',
    bytes: `PUT /kv/p HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 33\r\n\r\n{"__proto__": {"polluted": true}}`,
    status: 400,
    closes: false,
    forwarded: true,
    code: 'CLEAVE_INVALID_JSON',
  },
  // Keys come from requests: one the store can't hold is the client's error (issue 12, item 5).
  ...['%01', '%0d%0a', '%7f', '%c2%85'].map((key): HostileCase => ({
    name: `a control character in a store key (/kv/${key})`,
    bytes: `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 2\r\n\r\n{}`,
    status: 400,
    closes: false,
    forwarded: true,
    code: 'CLEAVE_STORE_KEY_INVALID',
  })),
  {
    name: 'a control character in a key read (GET /kv/%1b)',
    bytes: 'GET /kv/%1b HTTP/1.1\r\nHost: x\r\n\r\n',
    status: 400,
    closes: false,
    forwarded: true,
    code: 'CLEAVE_STORE_KEY_INVALID',
  },
];

/** Access-log lines of replicas (the relay tags them with a replica number; the gateway's say "-"). */
const replicaAccessLines = (logs: Array<Record<string, unknown>>) =>
  logs.filter((line) => typeof line.replica === 'number' && typeof line.method === 'string');

let markers = 0;

/**
 * Sends marked requests until every replica has logged one: each replica logs its requests in
 * order, so once its marker's line is in, any line of an earlier request to it is in too.
 */
async function markEveryReplica(app: CleaveProcess, replicas = 2): Promise<void> {
  const marked = new Set<unknown>();
  for (let sent = 0; marked.size < replicas; sent++) {
    assert.ok(sent < 20, 'the markers reach every replica');
    const requestId = `marker-${++markers}`;
    await (await fetch(`${app.url}/pid`, { headers: { 'x-request-id': requestId } })).arrayBuffer();
    const line = await until(
      () => replicaAccessLines(app.logs).find((entry) => entry.requestId === requestId),
      5000,
      `the access line of ${requestId}`,
    );
    marked.add(line.replica);
  }
}

/** Replica access lines other than the markers'. */
const unmarkedRequests = (logs: Array<Record<string, unknown>>) =>
  replicaAccessLines(logs).filter((line) => !String(line.requestId).startsWith('marker-')).length;

for (const mode of ['start', 'dev'] as const) {
  describe(`hostile input (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      app = await startCleave([mode, 'test/fixtures/replicated'], {
        CLEAVE_TASK_THREADS: '1',
        CLEAVE_ACCESS_LOG: 'true',
      });
    });
    after(async () => {
      assert.equal(await app.stop(), 0);
    });

    for (const hostile of cases) {
      it(`${hostile.name}: ${hostile.status}${hostile.closes ? ', connection closed' : ''}`, async () => {
        const before = unmarkedRequests(app.logs);
        // A connection the server keeps is let go once its answer is in.
        const res = await rawRequest(app.port, hostile.bytes, 3000, { oneResponse: !hostile.closes });
        assert.equal(res.status, hostile.status, res.text.slice(0, 300));
        if (hostile.closes) assert.equal(res.closed, true, 'the connection is closed');
        assert.match(res.text, /\r\n\r\n\{"error":\{"code":"CLEAVE_[A-Z_]+"/, 'a JSON error, never a stack');
        if (hostile.code) assert.match(res.text, new RegExp(`"code":"${hostile.code}"`));
        if (mode === 'start' && !hostile.forwarded) {
          await markEveryReplica(app);
          assert.equal(unmarkedRequests(app.logs), before, 'nothing reached a replica');
        }
      });
    }

    it('closes a WebSocket with 1009 on a frame over the limit (64 KiB by default)', async () => {
      const socket = await openSocket(`${app.url.replace('http', 'ws')}/ws`);
      socket.ws.send('x'.repeat(128 * 1024));
      assert.equal((await socket.closed).code, 1009);
    });

    it('never runs a handler on a body whose chunked framing breaks mid-stream', async () => {
      // A handler that ran would have written its key before the connection was answered and
      // closed, and the store is one for every replica: a read right after tells.
      const chunked = (key: string, chunks: string) =>
        rawRequest(
          app.port,
          `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked\r\n\r\n${chunks}`,
        );
      const broken = await chunked(`broken-${mode}`, '4\r\n{"a"\r\nzz\r\n:1}\r\n0\r\n\r\n');
      assert.equal(broken.status, 400);
      assert.equal((await fetch(`${app.url}/kv/broken-${mode}`)).status, 404, 'nothing written from a partial body');
      // The same request with sound framing does write: the check above can tell.
      const whole = await chunked(
        `whole-${mode}`,
        '4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.equal(whole.status, 200, whole.text.slice(0, 300));
      assert.equal((await fetch(`${app.url}/kv/whole-${mode}`)).status, 200);
    });

    it('reads `Transfer-Encoding: chunked ` as chunked (RFC 9112 drops the trailing space) and smuggles nothing', async () => {
      // The body is read whole; what follows it is a second request on the same connection,
      // answered in its turn, not hidden inside the first.
      const res = await rawRequest(
        app.port,
        `POST /emit HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked \r\n\r\n2\r\n{}\r\n0\r\n\r\n` +
          'GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.equal(res.status, 202);
      assert.equal(res.text.match(/HTTP\/1\.1 \d{3}/g)?.length, 2, 'two answers for two requests');
      assert.match(res.text, /"pid":\d+/);
    });
  });
}

/** Writes `head` at once, then `drip` every 200 ms, and waits for the server's answer and close. */
function slowClient(
  port: number,
  head: string,
  drip: string,
): Promise<{ status: number; closed: boolean; afterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setInterval(() => socket.write(drip), 200);
    const done = (closed: boolean) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closed, afterMs: Date.now() - started });
    };
    const giveUp = setTimeout(() => done(false), 10_000);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(giveUp);
      done(true);
    });
    socket.on('error', () => {});
    socket.write(head);
  });
}

describe('slowloris (cleave start)', { timeout: 60_000 }, () => {
  let app: CleaveProcess;
  before(async () => {
    app = await startCleave(['start', 'test/fixtures/replicated'], {
      CLEAVE_TASK_THREADS: '1',
      CLEAVE_HEADERS_TIMEOUT_MS: '500',
      CLEAVE_REQUEST_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    assert.equal(await app.stop(), 0);
  });

  it('answers 408 and closes a client that never finishes its headers', async () => {
    const res = await slowClient(app.port, 'GET /pid HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    assert.equal(res.status, 408);
    assert.equal(res.closed, true);
    assert.ok(res.afterMs < 3000, `cut after ${res.afterMs} ms`);
  });

  it('cuts a client that sends its body a byte at a time past the request timeout', async () => {
    const res = await slowClient(
      app.port,
      `PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"`,
      'a',
    );
    assert.equal(res.closed, true);
    assert.ok(res.status === 408 || res.status === 0, `status ${res.status}`);
    assert.ok(res.afterMs < 4000, `cut after ${res.afterMs} ms`);
  });
});
