// `cleave export k8s` as a user runs it: YAML on stdout that parses back to the objects, one
// file per object with --out, and one line when the command is incomplete.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { runToExit } from '../helpers/spawn-cleave.ts';

describe('cleave export k8s', { timeout: 60_000 }, () => {
  it('prints the forum as YAML documents kubectl can apply, quoting what YAML 1.1 would read as a boolean', async () => {
    const { code, stdout, stderr } = await runToExit([
      'export',
      'k8s',
      'examples/forum',
      '--image',
      'registry.example/forum:1',
    ]);
    assert.equal(code, 0, stderr);
    const documents = parseAllDocuments(stdout).map(
      (document) => document.toJS() as { kind: string; metadata: { name: string } } | null,
    );
    const objects = documents.filter((document) => document !== null);
    assert.equal(objects.filter((object) => object.kind === 'Deployment').length, 4);
    assert.equal(objects[0]?.kind, 'ConfigMap');
    assert.match(stdout, /CLEAVE_AUTOSCALE: "off"/);
    assert.match(stdout, /^# .*Secret forum-secrets/m);
  });

  it('writes one file per object with --out', async () => {
    const out = await mkdtemp(join(tmpdir(), 'cleave-export-'));
    try {
      const { code, stderr } = await runToExit(['export', 'k8s', 'examples/forum', '--image', 'x:1', '--out', out]);
      assert.equal(code, 0, stderr);
      const files = (await readdir(out)).sort();
      assert.ok(files.includes('forum-posts.deployment.yaml'), files.join(' '));
      assert.ok(files.includes('forum-auth.scaledobject.yaml'), files.join(' '));
      const route = parse(await readFile(join(out, 'forum-posts.httproute.yaml'), 'utf8')) as { kind: string };
      assert.equal(route.kind, 'HTTPRoute');
      assert.match(stderr, /^cleave: \d+ objects written to /);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('says in one line what is missing', async () => {
    const { code, stderr } = await runToExit(['export', 'k8s', 'examples/forum']);
    assert.equal(code, 1);
    assert.match(stderr, /^cleave: CLEAVE_USAGE cleave export k8s takes one app folder and an image: .*\n$/);
  });
});
