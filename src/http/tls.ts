// TLS termination: HTTPS on PORT from a certificate and key named by CLEAVE_TLS_CERT and
// CLEAVE_TLS_KEY, or, with `--tls` (CLEAVE_TLS=on) and no files named, a self-signed
// certificate for localhost made at first start and kept in CLEAVE_TLS_DIR for the next.
// TLS 1.2 at least, with forward secrecy and AEAD ciphers only (Node's default list still
// takes RSA key exchange and CBC-SHA1 suites in TLS 1.2).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { ConfigError } from '../errors.ts';

export interface TlsSettings {
  cert: string;
  key: string;
  /** Strict-Transport-Security on every answer. */
  hsts: boolean;
  /**
   * Mutual TLS: only a client showing a certificate this CA (PEM) signed is served; any other
   * is refused in the handshake, before a byte of HTTP is read.
   */
  clientCa?: string;
}

export interface TlsConfig {
  CLEAVE_TLS: boolean;
  CLEAVE_TLS_CERT: string | undefined;
  CLEAVE_TLS_KEY: string | undefined;
  CLEAVE_TLS_DIR: string;
  CLEAVE_HSTS: boolean;
}

/** The server's certificate and key, or undefined for plain HTTP. */
export async function loadTls(config: TlsConfig): Promise<TlsSettings | undefined> {
  const { CLEAVE_TLS_CERT: certPath, CLEAVE_TLS_KEY: keyPath } = config;
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new ConfigError(
      certPath === undefined ? 'CLEAVE_TLS_CERT' : 'CLEAVE_TLS_KEY',
      'is needed with the other one',
    );
  }
  if (certPath !== undefined && keyPath !== undefined) {
    return {
      cert: await readPem('CLEAVE_TLS_CERT', certPath),
      key: await readPem('CLEAVE_TLS_KEY', keyPath),
      hsts: config.CLEAVE_HSTS,
    };
  }
  if (!config.CLEAVE_TLS) return undefined;
  return { ...(await localhostCertificate(resolve(config.CLEAVE_TLS_DIR))), hsts: config.CLEAVE_HSTS };
}

export interface ClusterTlsConfig {
  CLEAVE_NODE_PORT: number | undefined;
  CLEAVE_CLUSTER_CA: string | undefined;
  CLEAVE_CLUSTER_CERT: string | undefined;
  CLEAVE_CLUSTER_KEY: string | undefined;
}

/**
 * The node listener's mutual TLS (`cleave cluster-cert` makes the files), or undefined when
 * this node has no node listener. A node listener without all three files is a one-line
 * refusal: it never serves other nodes without checking who they are.
 */
export async function loadClusterTls(config: ClusterTlsConfig): Promise<TlsSettings | undefined> {
  if (config.CLEAVE_NODE_PORT === undefined) return undefined;
  const files = {
    CLEAVE_CLUSTER_CA: config.CLEAVE_CLUSTER_CA,
    CLEAVE_CLUSTER_CERT: config.CLEAVE_CLUSTER_CERT,
    CLEAVE_CLUSTER_KEY: config.CLEAVE_CLUSTER_KEY,
  };
  for (const [variable, path] of Object.entries(files)) {
    if (path === undefined) {
      throw new ConfigError(variable, 'is needed with CLEAVE_NODE_PORT: other nodes are served over mutual TLS only');
    }
  }
  return {
    clientCa: await readPem('CLEAVE_CLUSTER_CA', files.CLEAVE_CLUSTER_CA as string),
    cert: await readPem('CLEAVE_CLUSTER_CERT', files.CLEAVE_CLUSTER_CERT as string),
    key: await readPem('CLEAVE_CLUSTER_KEY', files.CLEAVE_CLUSTER_KEY as string),
    hsts: false,
  };
}

/**
 * TLS 1.3's suites as Node has them (all AEAD), then TLS 1.2's with ECDHE key exchange and an
 * AEAD cipher: Mozilla's "intermediate" list without DHE. The ECDSA ones are for a user's own
 * EC certificate. Node takes TLS 1.3 suites from the same string and serves no TLS 1.3 without them.
 */
const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What node:https takes: the floor at TLS 1.2 and only the suites above, in our order. */
export function secureOptions(
  tls: TlsSettings,
): SecureContextOptions & { minVersion: 'TLSv1.2'; requestCert?: boolean; rejectUnauthorized?: boolean } {
  const common = {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2' as const,
    ciphers: CIPHERS,
    honorCipherOrder: true,
  };
  if (tls.clientCa === undefined) return common;
  return { ...common, ca: tls.clientCa, requestCert: true, rejectUnauthorized: true };
}

async function readPem(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Made once and reused, so a browser's exception for it lasts across restarts; made again
 * when the kept one is signed with SHA-1, as cleave made them before, so an upgrade does not
 * keep serving it.
 */
async function localhostCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const certFile = join(dir, 'localhost.crt');
  const keyFile = join(dir, 'localhost.key');
  try {
    const kept = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
    if (await signedWithSha2(kept.cert)) return kept;
  } catch {
    // None yet: make one.
  }
  // Loaded only here: node-forge, under selfsigned, costs every process 0.4 s to import.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    // 825 days: the longest a browser accepts for a server certificate.
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    // selfsigned signs with SHA-1 unless told; browsers refuse SHA-1 server certificates.
    algorithm: 'sha256',
    // RSA, not EC: a TLS 1.2 client that knows only ECDHE-RSA suites still connects.
    keyType: 'rsa',
    keySize: 2048,
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  await writeFile(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private };
}

/** How @peculiar/x509 names a signature; its own type rests on the DOM's, which we build without. */
export interface SignatureAlgorithm {
  /** RSASSA-PKCS1-v1_5, ECDSA, ... */
  name: string;
  /** SHA-1, SHA-256, ... */
  hash: { name: string };
}

/** The algorithm a certificate (PEM or DER) is signed with. */
export async function signatureAlgorithmOf(certificate: string | Buffer): Promise<SignatureAlgorithm> {
  // Loaded only with TLS on, as selfsigned is.
  const { X509Certificate } = await import('@peculiar/x509');
  return new X509Certificate(certificate).signatureAlgorithm as SignatureAlgorithm;
}

/** False for SHA-1 (or anything weaker) and for a file that is no certificate: both are made again. */
async function signedWithSha2(certPem: string): Promise<boolean> {
  try {
    return ['SHA-256', 'SHA-384', 'SHA-512'].includes((await signatureAlgorithmOf(certPem)).hash.name);
  } catch {
    return false;
  }
}
