// Reading a Prometheus text exposition in tests: the sum of a metric's series that carry
// some labels, and promtool's verdict on the whole (Debian's `prometheus` package; .ci/run
// installs it).

import { spawnSync } from 'node:child_process';

/** The sum of `name`'s samples whose labels include every one of `labels`. */
export function sumOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const own = labelsOf(line);
    if (Object.entries(labels).every(([key, value]) => own[key] === value)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Every sample line of `name`, with its labels. */
export function seriesOf(text: string, name: string): Array<Record<string, string>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map(labelsOf);
}

function labelsOf(line: string): Record<string, string> {
  const open = line.indexOf('{');
  const close = line.lastIndexOf('}');
  if (open < 0 || close < open) return {};
  const labels: Record<string, string> = {};
  for (const match of line.slice(open + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    labels[match[1] as string] = match[2] as string;
  }
  return labels;
}

/** Why promtool can't judge here, or undefined when it can. */
export function whyNoPromtool(): string | undefined {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.error ? 'no promtool (Debian: apt-get install prometheus)' : undefined;
}

/** promtool check metrics on `text`: its complaints, empty when it accepts it. */
export function promtoolComplaints(text: string): string {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}`.trim() || `exit ${result.status}`;
}
