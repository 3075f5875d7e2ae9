// A small disk of a test's own (a tmpfs), so a test can fill a real file system until writes
// fail with ENOSPC and free it again, with no mocked fs. Mounting needs root or CAP_SYS_ADMIN,
// as in CI; elsewhere `whyNoSmallDisk()` says why, and the test skips with that reason.

import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BALLAST = '.ballast';

export interface SmallDisk {
  /** Where the disk is mounted. */
  dir: string;
  /**
   * Writes a ballast file until the disk answers ENOSPC, then gives back `leaveBytes` of it
   * (rounded by the file system to whole pages). @default leaveBytes 0: nothing more fits.
   */
  fill(options?: { leaveBytes?: number }): Promise<void>;
  /** Deletes the ballast, giving back all that fill() took. */
  free(): Promise<void>;
  /** Unmounts the disk and removes its mount point; safe to call twice. */
  unmount(): Promise<void>;
}

export async function mountSmallDisk(sizeBytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-disk-full-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
  } catch (error) {
    await rmdir(dir);
    throw error;
  }
  let mounted = true;
  return {
    dir,
    fill: (options) => fill(join(dir, BALLAST), options?.leaveBytes ?? 0),
    free: () => rm(join(dir, BALLAST), { force: true }),
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await run('umount', [dir]);
      await rmdir(dir);
    },
  };
}

/** Undefined when this process can mount a small disk; otherwise the reason it can't, to skip with. */
export async function whyNoSmallDisk(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `a tmpfs needs Linux; this is ${process.platform}`;
  try {
    const disk = await mountSmallDisk(64 * 1024);
    await disk.unmount();
    return undefined;
  } catch (error) {
    const detail = ((error as { stderr?: string }).stderr?.trim() || (error as Error).message).split('\n')[0];
    return `cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN, as in CI): ${detail}`;
  }
}

async function fill(file: string, leaveBytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const handle: FileHandle = await open(file, 'a');
  try {
    try {
      // A short write fills the last partial room; the next one fails.
      for (;;) await handle.write(chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
    if (leaveBytes > 0) {
      const { size } = await handle.stat();
      await handle.truncate(Math.max(0, size - leaveBytes));
    }
  } finally {
    await handle.close();
  }
}
