// One supervised Node process (the gateway, or one replica of a service): forks it, restarts
// it with back-off when it exits without being asked to, gives up on a crash loop, and
// stops it with SIGTERM, then SIGKILL once the grace is over. It never logs: each step is
// an event the supervisor logs and the dashboard can show (also published on the
// diagnostics channel `cleave:supervisor:process`).

import diagnostics_channel from 'node:diagnostics_channel';
import { InternalError } from '../errors.ts';
import { RestartBackoff, type RestartBackoffOptions } from './backoff.ts';
import { ownExecArgv } from '../runtime/typescript.ts';
import { ROLE_FLAG } from './child-main.ts';
import { systemClock, type CancelTimer, type Clock } from './clock.ts';
import { forkSpawner, notStarted, type ExitStatus, type ProcessSpawner, type SpawnedProcess } from './spawner.ts';

export type ManagedProcessEvent =
  | { type: 'started'; role: string; pid: number | undefined }
  | {
      type: 'exited';
      role: string;
      pid: number | undefined;
      code: number | null;
      signal: NodeJS.Signals | null;
      uptimeMs: number;
      /** True when stop() asked for it; anything else is a crash. */
      expected: boolean;
      /** Why the process could not be started at all. */
      error?: Error;
    }
  | { type: 'restarting'; role: string; delayMs: number; attempt: number }
  | { type: 'gave-up'; role: string; crashes: number; windowMs: number }
  | { type: 'grace-expired'; role: string; pid: number | undefined; graceMs: number };

/** idle → running ⇄ waiting (to restart) → stopping → stopped; a crash loop ends in gave-up. */
export type ManagedProcessState = 'idle' | 'running' | 'waiting' | 'stopping' | 'stopped' | 'gave-up';

export interface ManagedProcessOptions {
  /** Names the process: its title becomes `cleave <role>` (`cleave gateway`, `cleave posts#2`). */
  role: string;
  /** Path of the module the child runs; it calls setTitle() and exitWithParent() (child-main.ts). */
  entry: string;
  /** Arguments for the child; `--cleave-role=<role>` is added after them. */
  args?: readonly string[];
  /** Added to the supervisor's own environment (12-factor: children see the same config). */
  env?: NodeJS.ProcessEnv;
  /**
   * Node flags for the child. Not the supervisor's own execArgv: an --inspect port would
   * clash across children. A TypeScript app is loaded by the child itself (runtime/typescript.ts).
   * @default ownExecArgv(): none when cleave is built; from source, what loads it
   */
  execArgv?: readonly string[];
  cwd?: string;
  /** @default 'advanced' */
  serialization?: 'json' | 'advanced';
  /** Restart back-off and crash-loop guard; see backoff.ts for the defaults. */
  restart?: Omit<RestartBackoffOptions, 'now'>;
  /** @default forkSpawner */
  spawner?: ProcessSpawner;
  /** @default systemClock */
  clock?: Clock;
  /** Runs synchronously after each spawn, before any output is read: attach the log relay and IPC hub here. */
  onSpawn?: (child: SpawnedProcess) => void;
  onEvent?: (event: ManagedProcessEvent) => void;
}

const events = diagnostics_channel.channel('cleave:supervisor:process');

export class ManagedProcess {
  readonly role: string;
  readonly #options: ManagedProcessOptions;
  readonly #spawner: ProcessSpawner;
  readonly #clock: Clock;
  readonly #backoff: RestartBackoff;
  #state: ManagedProcessState = 'idle';
  #child: SpawnedProcess | undefined;
  #startedAt = 0;
  #cancelRestart: CancelTimer | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: ManagedProcessOptions) {
    this.role = options.role;
    this.#options = options;
    this.#spawner = options.spawner ?? forkSpawner;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new RestartBackoff({ ...options.restart, now: () => this.#clock.now() });
  }

  get state(): ManagedProcessState {
    return this.#state;
  }

  /** The running child's pid; undefined while waiting to restart or once stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Forks the process. Returns at once: readiness is the supervisor's business (an IPC message). */
  start(): void {
    if (this.#state !== 'idle') throw new InternalError(`${this.role} was already started (${this.#state})`);
    this.#spawn();
  }

  /**
   * SIGKILL to the running child, for one that is alive but no longer serving. Its exit
   * counts as a crash: it is restarted with back-off, and a loop of them ends in gave-up.
   */
  kill(): void {
    if (this.#state === 'running') this.#child?.kill('SIGKILL');
  }

  /**
   * SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves once it
   * has exited. Cancels a pending restart. Safe in any state, and every call shares one stop.
   */
  stop(graceMs = 5_000): Promise<void> {
    return (this.#stopped ??= this.#stop(graceMs));
  }

  async #stop(graceMs: number): Promise<void> {
    this.#cancelRestart?.();
    this.#cancelRestart = undefined;
    const child = this.#child;
    if (child === undefined) {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    child.kill('SIGTERM');
    const cancelKill = this.#clock.schedule(() => {
      this.#emit({ type: 'grace-expired', role: this.role, pid: child.pid, graceMs });
      child.kill('SIGKILL');
    }, graceMs);
    try {
      await child.exited;
    } finally {
      cancelKill();
      this.#state = 'stopped';
    }
  }

  #spawn(): void {
    this.#cancelRestart = undefined;
    this.#state = 'running';
    const child = this.#spawnOrFail();
    this.#child = child;
    this.#startedAt = this.#clock.now();
    this.#backoff.started();
    // Watched before anyone else hears of the child, so a stop() from onSpawn or from an
    // event listener already finds its exit handled as expected.
    void child.exited.then((status) => this.#exited(child, status));
    this.#options.onSpawn?.(child);
    this.#emit({ type: 'started', role: this.role, pid: child.pid });
  }

  /** A spawner that throws (bad arguments) is treated like a process that died at boot: retried, then given up. */
  #spawnOrFail(): SpawnedProcess {
    const options = this.#options;
    try {
      return this.#spawner({
        entry: options.entry,
        args: [...(options.args ?? []), `${ROLE_FLAG}${this.role}`],
        env: { ...process.env, ...options.env },
        execArgv: options.execArgv ?? ownExecArgv(),
        cwd: options.cwd,
        serialization: options.serialization,
      });
    } catch (error) {
      return notStarted(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #exited(child: SpawnedProcess, status: ExitStatus): void {
    if (child !== this.#child) return;
    this.#child = undefined;
    const expected = this.#stopped !== undefined;
    this.#emit({
      type: 'exited',
      role: this.role,
      pid: child.pid,
      code: status.code,
      signal: status.signal,
      uptimeMs: Math.round(this.#clock.now() - this.#startedAt),
      expected,
      ...(status.error && { error: status.error }),
    });
    // A listener may have called stop() while hearing of this exit.
    if (expected || this.#stopped !== undefined) return;
    const decision = this.#backoff.exited();
    if (decision.action === 'give-up') {
      this.#state = 'gave-up';
      this.#emit({ type: 'gave-up', role: this.role, crashes: decision.crashes, windowMs: decision.windowMs });
      return;
    }
    this.#state = 'waiting';
    // Scheduled before it is announced, so a listener's stop() finds a restart to cancel.
    // A live timer on purpose: a supervisor whose replicas are all waiting to restart
    // must not exit for want of anything to do.
    this.#cancelRestart = this.#clock.schedule(() => this.#spawn(), decision.delayMs);
    this.#emit({ type: 'restarting', role: this.role, delayMs: decision.delayMs, attempt: decision.attempt });
  }

  #emit(event: ManagedProcessEvent): void {
    if (events.hasSubscribers) events.publish(event);
    this.#options.onEvent?.(event);
  }
}
