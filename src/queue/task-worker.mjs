// The module piscina loads in every task worker thread.
//
// Plain JavaScript, not TypeScript, because this file is what makes a TypeScript
// app loadable there: a worker starts with no loader (worker-pool.ts does not pass
// the parent's flags on), and piscina loads its entry with require()/import()
// before any hook could be installed. So: register tsx first when the main thread
// says the app needs it (runtime/typescript.ts decides), then import the app.

import { workerData } from 'node:worker_threads';

// Loaded once per worker, during start-up: piscina waits for this module's
// top-level await before it marks the worker ready, so a warm worker has
// already paid for the app import, and a task never waits on it.
// A failure is kept, not thrown: if every worker dies while booting, piscina
// leaves queued tasks waiting forever, so each task is answered with it instead.
const loaded = await loadTasks(workerData).then(
  (tasks) => ({ tasks, error: undefined }),
  (error) => ({ tasks: undefined, error }),
);

/**
 * Runs one task. Never throws: a failure travels back as data, because
 * postMessage keeps only an Error's message and stack (no name of a subclass,
 * no `code`) and turns anything thrown that is not an Error into noise.
 *
 * @param {{ task: string, input: unknown }} request
 * @returns {Promise<{ ok: true, output: unknown } | { ok: false, error: { name: string, message: string, stack?: string, code?: string } }>}
 */
export default async function runTask({ task, input }) {
  if (loaded.tasks === undefined) {
    const reason = toWire(loaded.error);
    return { ok: false, error: { ...reason, message: `the app failed to load in a worker thread: ${reason.message}` } };
  }
  const handler = loaded.tasks.get(task);
  if (handler === undefined) {
    // The main thread checked the id; this means the app is defined differently in a worker.
    const message = `no task "${task}" in the app as a worker thread loads it`;
    return { ok: false, error: { name: 'TaskNotFoundError', message, code: 'CLEAVE_TASK_NOT_FOUND' } };
  }
  try {
    return { ok: true, output: await handler(input) };
  } catch (error) {
    return { ok: false, error: toWire(error) };
  }
}

/** @param {{ appModule: string, tsx: boolean }} data see TaskWorkerData in worker-pool.ts */
async function loadTasks({ appModule, tsx }) {
  if (tsx) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  const { default: app } = await import(appModule);
  if (typeof app !== 'object' || app === null || !Array.isArray(app.services)) {
    throw new Error(`${appModule} has no default export made by defineApp()`);
  }
  /** @type {Map<string, (input: unknown) => unknown>} */
  const tasks = new Map();
  for (const service of app.services) {
    for (const definition of service.tasks.values()) tasks.set(definition.id, definition.handler);
  }
  return tasks;
}

/** @param {unknown} error */
function toWire(error) {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = /** @type {{ code?: unknown }} */ (error).code;
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    code: typeof code === 'string' ? code : undefined,
  };
}
