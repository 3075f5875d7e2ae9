// What every benchmark writes: the machine it ran on, its rows and ratios, in
// bench/results/<name>.json; and no ratios at all from a run that answered errors.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ROOT } from './server.ts';

export const ratio = (a: number, b: number) => Number((a / b).toFixed(3));

/** When, on which Node and which CPU: the head of every results file. */
export function machine(): { date: string; node: string; cpu: string } {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  };
}

/** A run that answered errors measured something else: say so and exit instead of printing ratios. */
export function refuseErrors(results: ReadonlyArray<{ name: string; errors: number }>): void {
  const failed = results.filter((result) => result.errors > 0);
  if (failed.length === 0) return;
  console.table(results);
  console.error(`errors in: ${failed.map((result) => result.name).join(', ')}; no ratios written`);
  process.exit(1);
}

export function writeResults(name: string, summary: object): void {
  mkdirSync(`${ROOT}/bench/results`, { recursive: true });
  writeFileSync(`${ROOT}/bench/results/${name}.json`, `${JSON.stringify(summary, null, 2)}\n`);
}
