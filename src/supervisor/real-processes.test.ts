// ManagedProcess, LogRelay and child-main.ts with real forked processes (fixtures/): restart
// with back-off, giving up, SIGTERM then SIGKILL, log tagging, process titles, and no
// orphan when a supervisor is SIGKILLed. Back-off settings are small so each test stays
// within seconds; every process a test starts is killed after it, pass or fail.

import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JsonLines, commandLineOf, isAlive, waitFor } from './fixtures/process-helpers.ts';
import { LogRelay } from './log-relay.ts';
import { ManagedProcess, type ManagedProcessEvent, type ManagedProcessOptions } from './managed-process.ts';
import { ownExecArgv } from '../runtime/typescript.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const managed = new Set<ManagedProcess>();
const children = new Set<ChildProcess>();
const pids = new Set<number>();

afterEach(async () => {
  await Promise.all([...managed].map((process) => process.stop(0)));
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
  // Grandchildren; the title check keeps a recycled pid from being killed by mistake.
  for (const pid of pids) if (isAlive(pid) && commandLineOf(pid).startsWith('cleave ')) process.kill(pid, 'SIGKILL');
  managed.clear();
  children.clear();
  pids.clear();
});

type Timed<E> = E & { at: number };

interface Run {
  process: ManagedProcess;
  events: Array<Timed<ManagedProcessEvent>>;
  logs: JsonLines;
  /** Resolves with the first event of `type` (after `skip` of them). */
  next: <T extends ManagedProcessEvent['type']>(
    type: T,
    skip?: number,
  ) => Promise<Timed<Extract<ManagedProcessEvent, { type: T }>>>;
}

function run(options: Partial<ManagedProcessOptions> & { entry: string; tags?: Record<string, string | number> }): Run {
  const events: Run['events'] = [];
  const logs = new JsonLines();
  const process = new ManagedProcess({
    role: 'posts#2',
    cwd: PROJECT_ROOT,
    onSpawn: (child) => {
      if (child.pid !== undefined) pids.add(child.pid);
      void new LogRelay(logs, { tags: options.tags ?? { service: 'posts', replica: 2 } }).relay(child);
    },
    onEvent: (event) => events.push({ ...event, at: performance.now() }),
    ...options,
  });
  managed.add(process);
  return {
    process,
    events,
    logs,
    next: (type, skip = 0) =>
      waitFor(`a "${type}" event`, () => events.filter((event) => event.type === type)[skip], 20_000) as never,
  };
}

describe('supervised processes, for real', { timeout: 30_000 }, () => {
  it('relays the child’s logs tagged with service and replica, and shows its title in ps', async () => {
    const { process, logs, next } = run({ entry: fixture('logging-child.ts') });
    process.start();
    const { pid } = await next('started');
    assert.ok(pid !== undefined);
    const ready = await waitFor('the pino line', () => logs.find((entry) => entry.msg === 'child ready'));
    assert.equal(ready.service, 'posts');
    assert.equal(ready.replica, 2);
    assert.equal(ready.pid, pid, "the child's own fields are kept");
    assert.equal(ready.level, 'info');
    const plain = await waitFor('the plain line', () =>
      logs.find((entry) => entry.msg === 'plain line from the child'),
    );
    assert.deepEqual([plain.level, plain.service, plain.replica], ['info', 'posts', 2]);
    const stderr = await waitFor('the stderr line', () => logs.find((entry) => entry.msg === 'a warning on stderr'));
    assert.deepEqual([stderr.level, stderr.service, stderr.replica], ['error', 'posts', 2]);

    assert.equal(await waitFor('the title', () => commandLineOf(pid) === 'cleave posts#2' && 'set'), 'set');

    await process.stop(5_000);
    const exited = await next('exited');
    assert.deepEqual([exited.code, exited.signal, exited.expected], [0, null, true]);
    assert.equal(isAlive(pid), false);
  });

  it('restarts a crashing child after growing delays, then gives up on the crash loop', async () => {
    const { process, events, logs, next } = run({
      entry: fixture('crashing-child.ts'),
      env: { CRASH_AFTER_MS: '30' },
      restart: { initialDelayMs: 100, factor: 2, jitter: 0, maxCrashes: 3, crashWindowMs: 60_000 },
    });
    process.start();
    const gaveUp = await next('gave-up');
    assert.deepEqual(gaveUp, { type: 'gave-up', role: 'posts#2', crashes: 4, windowMs: 60_000, at: gaveUp.at });
    assert.equal(process.state, 'gave-up');

    const restarting = events.filter((event) => event.type === 'restarting');
    assert.deepEqual(
      restarting.map((event) => event.delayMs),
      [100, 200, 400],
    );
    // Each restart really waited its delay: from the 'restarting' event to the next start.
    const started = events.filter((event) => event.type === 'started');
    assert.equal(started.length, 4);
    const waited = restarting.map((event, i) => started[i + 1]!.at - event.at);
    waited.forEach((ms, i) =>
      assert.ok(ms >= restarting[i]!.delayMs - 2, `waited ${ms} ms for ${restarting[i]!.delayMs}`),
    );
    // Measured gaps include timer lateness, so only the ends are compared (400 vs 100 ms).
    assert.ok(waited[2]! > waited[0]!, `delays grow: ${waited.map(Math.round).join(', ')} ms`);

    const exits = events.filter((event) => event.type === 'exited');
    assert.ok(exits.every((event) => event.code === 1 && !event.expected));
    assert.equal(new Set(started.map((event) => event.pid)).size, 4, 'a new process each time');
    assert.ok(started.every((event) => !isAlive(event.pid!)));
    assert.equal(logs.entries.filter((entry) => entry.msg === 'booted').length, 4);
    assert.ok(logs.find((entry) => entry.level === 'error' && String(entry.msg).includes('crashed on purpose')));
  });

  it('stops a child that ignores SIGTERM with SIGKILL once the grace is over', async () => {
    const { process, logs, next } = run({ entry: fixture('stubborn-child.ts') });
    process.start();
    const { pid } = await next('started');
    await waitFor('the SIGTERM handler', () => logs.find((entry) => entry.msg === 'ready'));
    const stopAt = performance.now();
    await process.stop(300);
    const took = performance.now() - stopAt;
    assert.ok(took >= 295 && took < 5_000, `stopped after ${took} ms`);
    assert.ok(
      logs.find((entry) => entry.msg === 'ignoring SIGTERM'),
      'SIGTERM came first',
    );
    assert.deepEqual((await next('grace-expired')).graceMs, 300);
    const exited = await next('exited');
    assert.deepEqual([exited.signal, exited.expected], ['SIGKILL', true]);
    assert.equal(isAlive(pid!), false);
    assert.equal(process.state, 'stopped');
  });

  it('leaves no orphan: a child exits within 2 s of its supervisor being SIGKILLed', async () => {
    const supervisor = fork(fixture('mini-supervisor.ts'), [], {
      cwd: PROJECT_ROOT,
      execArgv: ownExecArgv(),
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    children.add(supervisor);
    const output = new JsonLines();
    supervisor.stdout!.pipe(output);
    const grandchild = await waitFor('the grandchild pid', () => output.find((entry) => 'grandchild' in entry));
    const pid = grandchild.grandchild as number;
    pids.add(pid);
    // Ready means its disconnect watch is installed; its log came through the relay, tagged.
    const ready = await waitFor('the grandchild ready', () => output.find((entry) => entry.msg === 'child ready'));
    assert.deepEqual([ready.service, ready.replica], ['posts', 1]);
    await waitFor('the grandchild title', () => commandLineOf(pid) === 'cleave posts#1');

    const exited = once(supervisor, 'exit');
    supervisor.kill('SIGKILL');
    await exited;
    const killedAt = performance.now();
    await waitFor('the orphan to exit', () => !isAlive(pid), 2_000);
    const took = performance.now() - killedAt;
    assert.ok(took < 2_000, `orphan exited after ${took} ms`);
  });

  it('exits at once when started with its supervisor already gone, and refuses to run without IPC', async () => {
    // The child drops its own channel before watching it: the same state as a supervisor
    // that died while the child was still loading.
    const late = `import { exitWithParent } from './src/supervisor/child-main.ts';
      process.disconnect(); exitWithParent({ exitCode: 7 }); setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', late], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.add(child);
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 7);

    const noIpc = `import { exitWithParent } from './src/supervisor/child-main.ts';
      try { exitWithParent(); } catch (error) { console.log(error.code); }`;
    const orphan = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', noIpc], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(orphan);
    let out = '';
    orphan.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await once(orphan, 'close');
    assert.equal(out.trim(), 'CLEAVE_INTERNAL');
  });
});
