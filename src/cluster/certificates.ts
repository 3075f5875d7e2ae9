// The cluster's own certificate authority and its nodes' certificates (`cleave
// cluster-cert`): traffic between nodes is mutual TLS, each side showing a certificate the
// cluster's CA signed. Membership is the credential: a node's certificate names no host, as
// nodes come and go at addresses nobody knows in advance, and any holder of one is a node.
// Made with selfsigned (node-forge), as the localhost certificate is, and loaded only here.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';

export interface ClusterCertificateFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface MakeOptions {
  /** The node's name: its certificate's common name and file names. @default 'node' */
  node?: string;
  /** How long the node's certificate lasts. @default 825 days */
  days?: number;
}

const CA_DAYS = 3650;

/**
 * Makes `dir`/ca.crt and ca.key unless they are there (every node's certificate must come
 * from one CA), then a certificate and key for the node, signed by it. Keys are 0600.
 */
export async function makeClusterCertificates(
  dir: string,
  options: MakeOptions = {},
): Promise<ClusterCertificateFiles> {
  const node = options.node ?? 'node';
  // It names files: nothing that could climb out of `dir`. The one check, for the CLI's --node too.
  if (!/^[A-Za-z0-9_-]+$/.test(node)) throw new UsageError(`--node is letters, digits, - and _, got "${node}"`);
  const { default: selfsigned } = await import('selfsigned');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, `${node}.crt`), key: join(dir, `${node}.key`) };
  const caKeyFile = join(dir, 'ca.key');
  let ca: { cert: string; key: string };
  try {
    ca = { cert: await readFile(files.ca, 'utf8'), key: await readFile(caKeyFile, 'utf8') };
  } catch {
    const made = await selfsigned.generate([{ name: 'commonName', value: 'cleave cluster CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: daysFromNow(CA_DAYS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    ca = { cert: made.cert, key: made.private };
    await writeFile(caKeyFile, ca.key, { mode: 0o600 });
    await writeFile(files.ca, ca.cert);
  }
  const made = await selfsigned.generate([{ name: 'commonName', value: `cleave node ${node}` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: daysFromNow(options.days ?? 825),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    ],
  });
  await writeFile(files.key, made.private, { mode: 0o600 });
  await writeFile(files.cert, made.cert);
  return files;
}

function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * 24 * 3600 * 1000);
}
