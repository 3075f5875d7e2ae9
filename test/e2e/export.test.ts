// `cleave export k8s` as a user runs it: YAML on stdout that parses back to the objects, and
// one line when the command is incomplete (--out: src/cli/export.test.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
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
    // One per service, and the gateway's.
    assert.equal(objects.filter((object) => object.kind === 'Deployment').length, 5);
    assert.equal(objects[0]?.kind, 'ConfigMap');
    assert.match(stdout, /CLEAVE_AUTOSCALE: "off"/);
    assert.match(stdout, /^# .*Secret forum-secrets/m);
    assert.match(stdout, /^# .*Secret forum-cluster/m);
  });

  it('says in one line what is missing', async () => {
    const { code, stderr } = await runToExit(['export', 'k8s', 'examples/forum']);
    assert.equal(code, 1);
    assert.match(stderr, /^cleave: CLEAVE_USAGE cleave export k8s takes one app folder and an image: .*\n$/);
  });
});
