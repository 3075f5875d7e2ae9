// How the supervisor starts a Node process, behind a narrow interface: ManagedProcess only
// needs a pid, two output streams, an IPC channel, a way to signal and a way to learn of
// the exit, so its restart and stop logic is tested with a fake spawner and fake time.

import { fork } from 'node:child_process';
import { Readable } from 'node:stream';
import { channelOfChild, type IpcChannel } from '../ipc/channel.ts';

export interface SpawnSpec {
  /** Path of the module the child runs. */
  entry: string;
  args: readonly string[];
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** Node flags, e.g. what loads cleave's own modules (runtime/typescript.ts ownExecArgv). */
  execArgv: readonly string[];
  cwd?: string;
  /** @default 'advanced' */
  serialization?: 'json' | 'advanced';
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (EAGAIN, ENOMEM, a bad cwd). */
  error?: Error;
}

export interface SpawnedProcess {
  /** Undefined only when the process could not be started. */
  readonly pid: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The supervisor's end of the child's IPC channel. */
  readonly channel: IpcChannel | undefined;
  /** Settles once, when the process has exited (its output may still be draining). */
  readonly exited: Promise<ExitStatus>;
  /** Sends `signal`; does nothing once the process has exited. */
  kill(signal: NodeJS.Signals): void;
}

export type ProcessSpawner = (spec: SpawnSpec) => SpawnedProcess;

/**
 * Forks a Node process with piped stdout/stderr (for the log relay) and an IPC channel.
 *
 * The child gets its own process group (`detached`): Ctrl-C in a terminal signals the
 * whole foreground group at once, and a replica that got SIGINT straight from the
 * terminal and then SIGTERM from the supervisor would take the second signal as "exit
 * now" (cli/signals.ts) instead of draining in the order the supervisor chooses. Detached
 * children are still tied to the supervisor: they exit when its IPC channel closes
 * (child-main.ts exitWithParent), which also covers a supervisor killed with SIGKILL.
 */
export const forkSpawner: ProcessSpawner = (spec) => {
  const child = fork(spec.entry, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    execArgv: [...spec.execArgv],
    serialization: spec.serialization ?? 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // 'error' also reports a failed kill() or send(); only a spawn failure (no pid) means
    // there will be no 'exit'. Listening at all keeps the others from crashing the supervisor.
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  });
  return {
    pid: child.pid,
    // fork() with 'pipe' always creates both streams.
    stdout: child.stdout!,
    stderr: child.stderr!,
    channel: child.pid === undefined ? undefined : channelOfChild(child),
    exited,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
};

/** Stands for a process that could not be started: no output, and an exit that carries why. */
export function notStarted(error: Error): SpawnedProcess {
  return {
    pid: undefined,
    stdout: Readable.from([]),
    stderr: Readable.from([]),
    channel: undefined,
    exited: Promise.resolve({ code: null, signal: null, error }),
    kill: () => {},
  };
}
