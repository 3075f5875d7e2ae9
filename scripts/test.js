#!/usr/bin/env node
// Finds every *.test.ts under src/ and test/ and runs them with node's test
// runner through tsx. Node 20's --test takes no glob, hence this script.
//
// The unit tests (src/) run two files at a time: they are short and mostly wait on
// sockets and timers, and this halves their time on two cores. The end-to-end tests
// (test/) start whole apps and measure load, so they run one file at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

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
    ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

const only = process.argv.slice(2);
const status = only.length > 0 ? run(only, 1) : Math.max(run(find('src').sort(), 2), run(find('test').sort(), 1));
process.exit(status);
