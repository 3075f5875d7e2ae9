// The logger batches writes; these tests make sure batching never loses a line
// a process wrote before it exited, that lines are JSON on a pipe, and that flushing
// at exit never keeps a process alive when nobody reads its stdout.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

function runScript(body: string): { stdout: string; status: number | null } {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger({ pretty: false });\n${body}`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { stdout: result.stdout, status: result.status };
}

/**
 * Runs `body` with its stdout a pipe that `readerSide` closes or leaves unread; true if the
 * process exits within `boundMs` (it is killed otherwise).
 */
async function exitsWithin(boundMs: number, body: string, readerSide: (child: ChildProcess) => void): Promise<boolean> {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger({ pretty: false });\n${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const exited = once(child, 'exit');
  readerSide(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  await exited;
  clearTimeout(timer);
  return child.signalCode !== 'SIGKILL';
}

describe('createLogger', () => {
  it('writes JSON lines with a level label and an ISO time', () => {
    const { stdout } = runScript(`log.info({ a: 1 }, 'hello');`);
    const line = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.equal(line.level, 'info');
    assert.equal(line.msg, 'hello');
    assert.equal(line.a, 1);
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
  });

  it('flushes buffered lines when the process exits at once', () => {
    const { stdout, status } = runScript(`for (let i = 0; i < 3; i++) log.info({ i }, 'line'); process.exit(3);`);
    assert.equal(status, 3);
    assert.deepEqual(
      stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { i: number }).i),
      [0, 1, 2],
    );
  });

  it('flushes buffered lines when the process dies of an uncaught error', () => {
    const { stdout, status } = runScript(
      `log.error('before the crash'); setTimeout(() => { throw new Error('x'); }, 1);`,
    );
    assert.equal(status, 1);
    assert.match(stdout, /before the crash/);
  });

  // Issue 12: a supervisor killed with SIGKILL left its children looping forever on a log
  // line they could not write (EPIPE, retried every 100 ms by the flush at exit).
  it('exits at once when the reader of stdout is gone with lines still buffered', async () => {
    // The process logs only once its stdin ends, which the test does after closing the
    // reading end of stdout: the line surely waits in the buffer of a pipe nobody reads.
    const exited = await exitsWithin(
      10_000,
      `process.stdin.resume(); process.stdin.on('end', () => { log.info('after the reader left'); process.exit(0); });`,
      (child) => {
        child.stdout?.destroy();
        child.stdin?.end();
      },
    );
    assert.ok(exited, 'still running 10 s later');
  });

  it('exits within its bound when stdout is full and never read', async () => {
    // ~5 MiB of lines against a pipe of a few hundred KiB that is never read: the flush at
    // exit gives up after a second instead of waiting for a reader forever.
    const exited = await exitsWithin(
      10_000,
      `for (let i = 0; i < 20_000; i++) log.info({ i, pad: 'x'.repeat(200) }, 'filling');
       setTimeout(() => process.exit(0), 200);`,
      (child) => {
        child.stdout?.pause();
        child.stdin?.end();
      },
    );
    assert.ok(exited, 'still running 10 s later');
  });
});
