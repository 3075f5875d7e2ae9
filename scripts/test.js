#!/usr/bin/env node
// Finds every *.test.ts under src/ and test/ and runs them with node's test
// runner. Node 20's --test takes no glob, hence this script.
//
// The tests import cleave's source (the `cleave-source` condition makes `import
// 'cleave'` mean src/ too), read by Node's own type stripping where Node has it and
// by tsx elsewhere. What they start as a user would (`bin/cleave.js`) runs cleave as
// built, so dist/ is rebuilt first when src/ has changed since.
//
// The unit tests (src/) run two files at a time: they are short and mostly wait on
// sockets and timers, and this halves their time on two cores. So do the end-to-end tests
// (test/), which wait on processes starting and stopping, but those that measure how an app
// behaves under CPU load (ALONE) run one at a time after them, so another test's work can't
// skew what they measure. Tests that share a server keep apart by name (each its own
// database, NATS subjects and Redis keys).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILD_INFO = 'dist/.tsbuildinfo';

function newestIn(dir) {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs;
    }),
  );
}

function buildIfStale() {
  const builtAt = existsSync(BUILD_INFO) ? statSync(BUILD_INFO).mtimeMs : 0;
  if (Math.max(newestIn('src'), statSync('tsconfig.build.json').mtimeMs) <= builtAt) return;
  const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// The longest end-to-end files start first, so two at a time never ends with one of them
// running by itself (longest-first scheduling).
const LONGEST_FIRST = [
  'test/e2e/nodes.test.ts',
  'test/e2e/gateway.test.ts',
  'test/e2e/tasks.test.ts',
  'test/e2e/calls.test.ts',
  'test/e2e/graceful-stop.test.ts',
  'test/e2e/cache.test.ts',
  'test/e2e/forum.test.ts',
];
const ALONE = new Set(['test/e2e/autoscale.test.ts', 'test/e2e/browser.test.ts', 'test/e2e/gateway-failover.test.ts']);

const typeScriptFlags = process.features.typescript ? [] : ['--import', 'tsx'];

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'fixtures' ? [] : find(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function run(files, concurrency) {
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=cleave-source',
      ...typeScriptFlags,
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${concurrency}`,
      ...files,
    ],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

buildIfStale();
const only = process.argv.slice(2);
const e2e = find('test').sort();
const status =
  only.length > 0
    ? run(only, 1)
    : Math.max(
        run(find('src').sort(), 2),
        run([...LONGEST_FIRST, ...e2e.filter((file) => !ALONE.has(file) && !LONGEST_FIRST.includes(file))], 2),
        run(
          e2e.filter((file) => ALONE.has(file)),
          1,
        ),
      );
process.exit(status);
