// Logs go to stdout, and whoever reads stdout may fall behind, stall, or go away. None of
// that may stop the app: a cleave process whose stdout is never read, or closed, keeps
// answering requests.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const CLI = fileURLToPath(new URL('../../bin/cleave.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function startUnread(port: number) {
  const child = spawn(process.execPath, [CLI, 'dev', 'test/fixtures/kitchen'], {
    cwd: ROOT,
    // Access log on: a JSON line per request, far more than a pipe's 64 KiB below.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', CLEAVE_ACCESS_LOG: 'true' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  child.stdout.pause();
  // Wait for the port rather than for a log line: stdout is not to be read.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/hello/x`);
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error('cleave dev did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function hammer(port: number, requests: number): Promise<number> {
  let ok = 0;
  const worker = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/hello/some-rather-long-name-${i}`, {
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      if (res.status === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => worker(requests / 8)));
  return ok;
}

describe('a stalled or closed stdout', { timeout: 60_000 }, () => {
  it('does not stop the app from serving', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = await startUnread(port);
    try {
      // ~2,000 access-log lines of ~250 bytes: 500 KiB against a 64 KiB pipe nobody reads.
      assert.equal(await hammer(port, 2000), 2000);
      // The reader goes away altogether: writes now fail with EPIPE.
      child.stdout.destroy();
      assert.equal(await hammer(port, 400), 400);
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(timer);
    }
  });
});
