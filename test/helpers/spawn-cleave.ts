// Runs the real `cleave` command as a child process and reads its JSON logs,
// for tests of what a user sees: start-up, signals, exit codes.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AppStatus } from '../../src/supervisor/status.ts';

const CLI = fileURLToPath(new URL('../../bin/cleave.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CleaveProcess {
  child: ChildProcess;
  url: string;
  port: number;
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Sends `signal` and resolves with the exit code (bounded). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** The pids whose parent is `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** What `ps` shows for `pid`: `cleave posts#2` once the process has set its title. */
export function titleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The scheduling priority (nice) of `pid`: field 19 of /proc/<pid>/stat. */
export function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** Alive and not a zombie: some containers never reap orphans. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Where a node runs: a command it is started under (`ip netns exec <host>`), the address it is reached at. */
export interface Where {
  prefix?: readonly string[];
  address?: string;
}

export function runCleave(args: string[], env: Record<string, string> = {}, where: Where = {}): ChildProcess {
  const [command, ...rest] = [...(where.prefix ?? []), process.execPath, CLI, ...args] as [string, ...string[]];
  return spawn(command, rest, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `cleave` to its end: the exit code and all it wrote on stderr and stdout. */
export async function runToExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = runCleave(args, env);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stderr, stdout };
}

/** The warnings and errors a start logged, to say why it failed (a child's reason is only in its log). */
function complaintsIn(logs: Array<Record<string, unknown>>): string {
  const complaints = logs.filter((line) => line.level === 'error' || line.level === 'fatal' || line.level === 'warn');
  return complaints.length === 0 ? '' : `\nits log said:\n${complaints.map((line) => JSON.stringify(line)).join('\n')}`;
}

/**
 * Starts several at once (the nodes of one test); if one fails, the others are stopped before
 * the failure is thrown, so no node outlives a test that never got hold of it.
 */
export async function startTogether(starts: Promise<CleaveProcess>[]): Promise<CleaveProcess[]> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed === undefined) return settled.map((result) => (result as PromiseFulfilledResult<CleaveProcess>).value);
  for (const result of settled) if (result.status === 'fulfilled') await result.value.stop('SIGKILL');
  throw failed.reason;
}

export async function startCleave(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 15_000,
  where: Where = {},
): Promise<CleaveProcess> {
  const child = runCleave(args, { PORT: '0', HOST: where.address ?? '127.0.0.1', ...env }, where);
  const logs: Array<Record<string, unknown>> = [];
  let errText = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errText += chunk.toString();
  });
  let buffered = '';
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`cleave did not start in time: ${errText}${complaintsIn(logs)}`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cleave exited with ${code} before listening: ${errText}${complaintsIn(logs)}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // Not a log line of cleave's (a library writing to stdout): kept, and the start still seen.
          entry = { msg: line, notJson: true };
        }
        logs.push(entry);
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening')) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
  });
  // One that never said it listens must not outlive the test: its handles would keep the test
  // file's process (and so the whole run) waiting on it for ever.
  const port = await listening.catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    child,
    port,
    url: `http://${where.address ?? '127.0.0.1'}:${port}`,
    logs,
    stderr: () => errText,
    async stop(signal = 'SIGTERM', stopTimeoutMs = 15_000) {
      // Gone already (exited, or killed by a test): its 'close' was heard before this.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      // 'close', not 'exit': the last log lines may still be in the pipe when the process is gone.
      const exited = once(child, 'close');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * What a user relies on at the end of every run: SIGTERM, exit 0, and no child process left
 * behind (given 5 s to go).
 */
export async function stopLeavingNothing(app: CleaveProcess | undefined): Promise<void> {
  if (app === undefined) return; // never started: before() failed, and said why
  const children = childPids(app.child.pid ?? 0);
  assert.equal(await app.stop(), 0);
  const deadline = Date.now() + 5000;
  while (children.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(children.filter(isRunning), [], 'no process left behind');
}

/** What `cleave status --port <port> --json` prints, parsed; fails the test on a non-zero exit. */
export async function statusOf(port: number): Promise<AppStatus> {
  const child = spawn(process.execPath, [CLI, 'status', '--port', String(port), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number];
  assert.equal(code, 0);
  return JSON.parse(out) as AppStatus;
}
