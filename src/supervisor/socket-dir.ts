// The folder of a split app's unix sockets (each replica's, and its calls socket), made by
// the supervisor. A supervisor that stops removes it; one killed with SIGKILL can't, so its
// children, which outlive it by milliseconds, do (child-main.ts exitWithParent).

import { type Dirent, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The variable that tells every child where its supervisor's socket folder is. */
export const SOCKET_DIR_ENV = 'CLEAVE_SOCKET_DIR';

/** A fresh folder under the system tmp: unix socket paths are limited to ~107 bytes. */
export function makeSocketDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cleave-'));
}

/**
 * Removes the sockets in `dir`, then `dir` if that left it empty. Only sockets: the path
 * comes from the environment, and a wrong one must never cost anyone a file. Every child
 * of a killed supervisor does this at once; what another removed first is skipped.
 */
export function removeSocketDir(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // removed already
  }
  for (const entry of entries) {
    if (!entry.isSocket()) continue;
    try {
      unlinkSync(join(dir, entry.name));
    } catch {
      // Removed by another child.
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // Removed by another child, or holds something that is not ours to remove.
  }
}
