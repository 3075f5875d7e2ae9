// TLS termination: HTTPS on PORT from a certificate and key named by CLEAVE_TLS_CERT and
// CLEAVE_TLS_KEY, or, with `--tls` (CLEAVE_TLS=on) and no files named, a self-signed
// certificate for localhost made at first start and kept in CLEAVE_TLS_DIR for the next.
// TLS 1.2 at least; Node's default cipher list has no weak suites.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import selfsigned from 'selfsigned';
import { ConfigError } from '../errors.ts';

export interface TlsSettings {
  cert: string;
  key: string;
  /** Strict-Transport-Security on every answer. */
  hsts: boolean;
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

/** What node:https takes, with the floor at TLS 1.2. */
export function secureOptions(tls: TlsSettings): SecureContextOptions & { minVersion: 'TLSv1.2' } {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' };
}

async function readPem(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Made once and reused, so a browser's exception for it lasts across restarts. */
async function localhostCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const certFile = join(dir, 'localhost.crt');
  const keyFile = join(dir, 'localhost.key');
  try {
    return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  } catch {
    // None yet: make one.
  }
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    // 825 days: the longest a browser accepts for a server certificate.
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
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
