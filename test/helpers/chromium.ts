// The system's Chromium for browser tests (playwright-core drives it; .ci/run installs Debian's).
// Without one a browser suite is skipped with the reason, which CI never is.

import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-headless-shell'];

export function findChromium(): { path?: string; skip?: string } {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    return existsSync(override) ? { path: override } : { skip: `CHROMIUM_PATH=${override} does not exist` };
  }
  const path = CANDIDATES.find((candidate) => existsSync(candidate));
  return path
    ? { path }
    : { skip: `no Chromium found (looked for ${CANDIDATES.join(', ')}; set CHROMIUM_PATH to point at one)` };
}

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
