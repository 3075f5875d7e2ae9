import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { rawRequest } from '../../test/helpers/raw-http.ts';
import { readBody } from './body.ts';
import { ClientClosedError } from '../errors.ts';
import { EarlyAnswerResponse } from './early-answer.ts';

/** A real server whose answers are EarlyAnswerResponses, as every cleave server's are. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; server: Server }> {
  const server = createServer({ ServerResponse: EarlyAnswerResponse }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, server };
}

describe('EarlyAnswerResponse', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  it('keeps the headers of writeHead(status, undefined, headers), the form node accepts', async () => {
    const { port, server } = await serve((_req, res) => {
      res.writeHead(200, undefined, { 'x-kept': 'yes', 'content-length': 2 }).end('ok');
    });
    servers.push(server);
    const res = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(res.text, /x-kept: yes/i);
    assert.match(res.text, /content-length: 2/i);
  });

  it('writes nothing of a second end() while the unread body is read off', async () => {
    const { port, server } = await serve((req, res) => {
      res.writeHead(400, { 'content-length': 1 });
      res.end('a');
      // Node itself fails a second end() with data after a plain end; this one must not write it.
      if (req.method === 'POST') res.end('b');
    });
    servers.push(server);
    const res = await rawRequest(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const answers = res.text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, res.text);
    assert.match(answers[0] ?? '', /\r\n\r\na$/, 'the first answer is its one byte, nothing after');
  });
});

describe('readBody', () => {
  it('rejects at once when the client left before anyone read the body (issue 12 review)', async () => {
    let outcome: Promise<unknown> | undefined;
    const { port, server } = await serve((req) => {
      // A stage that awaits before the body is read: by the time readBody looks, the client is gone.
      req.once('close', () => {
        outcome = readBody(req, 1024).then(
          () => 'resolved',
          (error: unknown) => error,
        );
      });
    });
    try {
      const { connect } = await import('node:net');
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab');
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      const deadline = Date.now() + 2000;
      while (outcome === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      const settled = await Promise.race([
        outcome,
        new Promise((resolve) => setTimeout(() => resolve('pending'), 1000)),
      ]);
      assert.ok(settled instanceof ClientClosedError, `settled with ${String(settled)}`);
    } finally {
      server.close();
    }
  });
});
