// `cleave export k8s --out`: one file per object, each a YAML document of its own.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exportK8s } from './export.ts';

describe('cleave export k8s --out', () => {
  it('writes one file per object, named after it', async () => {
    const out = await mkdtemp(join(tmpdir(), 'cleave-export-'));
    try {
      await exportK8s({ appDir: 'examples/forum', image: 'x:1', out });
      const files = await readdir(out);
      assert.ok(files.includes('forum-posts.deployment.yaml'), files.join(' '));
      assert.ok(files.includes('forum-auth.scaledobject.yaml'), files.join(' '));
      assert.ok(files.includes('forum-config.configmap.yaml'), files.join(' '));
      const route = parse(await readFile(join(out, 'forum-posts.httproute.yaml'), 'utf8')) as { kind: string };
      assert.equal(route.kind, 'HTTPRoute');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
