// `cleave export k8s <app-dir> --image <ref>`: the app's Kubernetes objects as YAML, on
// stdout (for `kubectl apply -f -`) or one file per object in `--out`.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { k8sManifests, settingsObjectsOf, type K8sExportOptions, type K8sObject } from '../export/k8s.ts';
import { loadApp } from '../runtime/load-app.ts';

export interface ExportK8sOptions extends Omit<K8sExportOptions, 'appPath'> {
  appDir: string;
  /** @default appDir as given */
  appPath?: string;
  out?: string;
}

export async function exportK8s(options: ExportK8sOptions): Promise<void> {
  const config = loadRuntimeConfig();
  const { app } = await loadApp(options.appDir, config.CLEAVE_TYPESCRIPT);
  const { appDir, appPath = appDir, out, ...rest } = options;
  const objects = k8sManifests(app, {
    appPath,
    port: config.PORT,
    stopGraceMs: config.CLEAVE_STOP_GRACE_MS,
    ...rest,
  });
  const { stringify } = await import('yaml');
  const { secrets, cluster } = settingsObjectsOf(app);
  const header = [
    `# ${app.name}'s Kubernetes objects, made by cleave export k8s from the app itself.`,
    `# Every pod reads its secrets from the Secret ${secrets}, made by you:`,
    '#   CLEAVE_SECRET (32+ characters), CLEAVE_NATS_URL, CLEAVE_STORE (postgres://…), CLEAVE_REDIS_URL',
    `# and the cluster's certificate from the Secret ${cluster} (cleave cluster-cert --node k8s):`,
    `#   kubectl create secret generic ${cluster} --from-file=ca.crt=.cleave/cluster/ca.crt \\`,
    '#     --from-file=node.crt=.cleave/cluster/k8s.crt --from-file=node.key=.cleave/cluster/k8s.key',
  ].join('\n');
  const yamlOf = (object: K8sObject) =>
    stringify(object, { version: '1.1', aliasDuplicateObjects: false, lineWidth: 0 });
  if (out === undefined) {
    process.stdout.write(`${header}\n${objects.map((object) => `---\n${yamlOf(object)}`).join('')}`);
    return;
  }
  await mkdir(out, { recursive: true });
  for (const object of objects) {
    await writeFile(
      join(out, `${object.metadata.name}.${object.kind.toLowerCase()}.yaml`),
      `${header}\n${yamlOf(object)}`,
    );
  }
  process.stderr.write(`cleave: ${objects.length} objects written to ${out}\n`);
}
