// The logger batches writes; these tests make sure batching never loses a line
// a process wrote before it exited, and that lines are JSON on a pipe.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
});
