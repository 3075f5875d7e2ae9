// The child's side of being supervised: name itself so `ps` tells the processes apart, and
// never outlive the supervisor. Safe to import from the supervisor too (no side effects):
// ManagedProcess uses the same role flag and title format.

import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError } from '../errors.ts';
import { settledWithin } from '../shared/settle-within.ts';
import { removeSocketDir, SOCKET_DIR_ENV } from './socket-dir.ts';
import { stopTracing } from '../observability/tracing.ts';

/**
 * The argument that carries a child's role (`--cleave-role=posts#2`). An argument rather
 * than an env var because `ps` shows it before the child has set its title (tsx takes a
 * few hundred ms to load), and because it reserves room: on Linux the title overwrites
 * the memory of the original argv and is cut to its length, and this flag alone is
 * longer than the title made from it.
 */
export const ROLE_FLAG = '--cleave-role=';

/** `gateway` → `cleave gateway`, `posts#2` → `cleave posts#2`. */
export function titleOf(role: string): string {
  return `cleave ${role}`;
}

/** The role the supervisor gave this process, if it was started with ROLE_FLAG. */
export function roleFromArgv(argv: readonly string[] = process.argv): string | undefined {
  const flag = argv.find((arg) => arg.startsWith(ROLE_FLAG));
  return flag === undefined ? undefined : flag.slice(ROLE_FLAG.length);
}

/** Shows this process as `cleave <role>` in ps, top and /proc/<pid>/cmdline. */
export function setTitle(role: string): void {
  process.title = titleOf(role);
}

export interface ExitWithParentOptions {
  /**
   * Last words before exiting, e.g. flushing a file store. Bounded by `graceMs`; anything
   * written to stdout may fail, since the supervisor that read it is gone.
   */
  beforeExit?: () => unknown;
  /** @default 1000 */
  graceMs?: number;
  /** Nobody is left to read it; 0 so a reaper that logs exit codes does not report a fault. @default 0 */
  exitCode?: number;
  /**
   * Clean-up the supervisor would have done on a normal stop, run only once it is known to
   * be dead (not merely disconnected), e.g. removing a socket file it made.
   */
  onParentDied?: () => void;
}

/**
 * Exits this process when its IPC channel to the supervisor closes: when the supervisor
 * exits, crashes or is killed with SIGKILL, the kernel closes its end of the socket pair
 * and Node emits 'disconnect' here within milliseconds. This is what node:cluster workers
 * do; Linux's PR_SET_PDEATHSIG would also work but is out of reach without a native addon,
 * and polling process.ppid would notice a second late. A supervisor that disconnects a
 * child on purpose is asking it to go, with the same result.
 *
 * A supervisor that died can't remove its socket folder (SOCKET_DIR_ENV); this process
 * does, and runs `onParentDied`, once it has seen the supervisor is really gone.
 *
 * The listener keeps the channel referenced, so this process no longer exits on its own
 * when it runs out of work; a supervised process exits through its signal handler
 * (cli/signals.ts calls process.exit) or by calling the returned function first.
 *
 * Returns a function that stops watching.
 */
export function exitWithParent(options: ExitWithParentOptions = {}): () => void {
  if (typeof process.send !== 'function') {
    throw new InternalError('exitWithParent() needs an IPC channel: start this process with child_process.fork()');
  }
  // Unknown if it died while this process was still loading: its other children clean up.
  const supervisor = process.connected ? process.ppid : undefined;
  let exiting = false;
  const onDisconnect = (): void => {
    if (exiting) return;
    exiting = true;
    const exitCode = options.exitCode ?? 0;
    // The spans of the last work leave too, as on a signal (cli/signals.ts).
    const last = [Promise.resolve().then(options.beforeExit).finally(stopTracing)];
    const lastWords = settledWithin(last, options.graceMs ?? 1000);
    void Promise.all([lastWords, cleanUpAfter(supervisor, options)]).finally(() => process.exit(exitCode));
  };
  // The supervisor may have died while this process was still loading: 'disconnect' has
  // fired already and will not fire again.
  if (!process.connected) {
    onDisconnect();
    return () => {};
  }
  process.on('disconnect', onDisconnect);
  return () => {
    process.off('disconnect', onDisconnect);
  };
}

/** How long after its channel closed a dead supervisor's death shows in process.ppid. */
const REPARENTED_WITHIN_MS = 1000;

/**
 * Cleans up after the supervisor once this process has been given to another parent: the
 * sign that the supervisor is dead, not merely done with this child. The channel closes a
 * few milliseconds before that (the kernel closes a dying process's files first). A live
 * supervisor cleans up after itself; then nothing is done here.
 */
async function cleanUpAfter(supervisor: number | undefined, options: ExitWithParentOptions): Promise<void> {
  const socketDir = process.env[SOCKET_DIR_ENV];
  if (supervisor === undefined || (socketDir === undefined && options.onParentDied === undefined)) return;
  const deadline = Date.now() + REPARENTED_WITHIN_MS;
  while (process.ppid === supervisor) {
    if (Date.now() > deadline) return;
    await sleep(10);
  }
  try {
    if (socketDir !== undefined) removeSocketDir(socketDir);
    options.onParentDied?.();
  } catch {
    // Best effort: exiting matters more.
  }
}
