// A client that goes away halfway through its body is the client's doing: the app logs no
// error for it (issue 12, item 11), only the access line (499, aborted), and keeps serving.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

/** Sends a head promising 1000 bytes, a few of them, then resets the connection. */
async function dropMidBody(port: number, requestId: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `PUT /kv/dropped HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"abc`,
  );
  // Long enough for the handler to be reading the body when the client leaves.
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.resetAndDestroy();
}

for (const mode of ['start', 'dev'] as const) {
  describe(`a client that drops its body (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      app = await startCleave([mode, 'test/fixtures/replicated'], { CLEAVE_ACCESS_LOG: 'true' });
    });
    after(async () => {
      assert.equal(await app.stop(), 0);
    });

    it('is logged as a 499 access line, never at error level', async () => {
      const requestId = `dropped-${mode}`;
      await dropMidBody(app.port, requestId);
      // The request's access line (the replica's, when split) closes the story of that request.
      const access = await until(
        () => app.logs.find((line) => line.requestId === requestId && line.status === 499 && line.method === 'PUT'),
        5000,
        'the access line of the dropped request',
      );
      assert.equal(access.level, 'info');
      assert.equal(access.aborted, true);
      const errors = app.logs.filter((line) => line.level === 'error' || line.level === 'fatal');
      assert.deepEqual(errors, [], 'no error lines');
      const res = await fetch(`${app.url}/pid`);
      assert.equal(res.status, 200, 'still serving');
    });
  });
}
