// The cluster's certificates over real TLS sockets: a node that shows one signed by the
// cluster's CA is let in, a client with none or with another CA's is refused in the handshake.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { ConfigError } from '../errors.ts';
import { loadClusterTls } from '../http/tls.ts';
import { makeClusterCertificates, type ClusterCertificateFiles } from './certificates.ts';

const pem = async (files: ClusterCertificateFiles) => ({
  ca: await readFile(files.ca, 'utf8'),
  cert: await readFile(files.cert, 'utf8'),
  key: await readFile(files.key, 'utf8'),
});

describe('cluster certificates', { timeout: 30_000 }, () => {
  let dir = '';
  let server: Server;
  let port = 0;
  let nodeA: ClusterCertificateFiles;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-cluster-'));
    nodeA = await makeClusterCertificates(join(dir, 'cluster'), { node: 'a' });
    const a = await pem(nodeA);
    server = createServer({ ...a, requestCert: true, rejectUnauthorized: true }, (socket) => socket.end('hello node'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * What the server's handler said to a client with `credentials` ('' when it never ran),
   * and how the connection ended. With TLS 1.3 the client may finish its side of the
   * handshake before the server refuses its certificate: the refusal is an alert, then close.
   */
  async function exchange(credentials: { ca: string; cert?: string; key?: string }) {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ...credentials,
      checkServerIdentity: () => undefined,
    });
    let said = '';
    socket.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const ended = await new Promise<string>((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.once('close', () => resolve('closed'));
    });
    socket.destroy();
    return { said, ended };
  }

  it("lets in a node whose certificate the cluster's CA signed, and keeps one CA for every node", async () => {
    const caBefore = await readFile(nodeA.ca, 'utf8');
    const nodeB = await makeClusterCertificates(join(dir, 'cluster'), { node: 'b' });
    assert.equal(await readFile(nodeB.ca, 'utf8'), caBefore, 'the CA is made once');
    assert.equal((await stat(nodeB.key)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'cluster', 'ca.key'))).mode & 0o777, 0o600);
    assert.deepEqual(await exchange(await pem(nodeB)), { said: 'hello node', ended: 'closed' });
  });

  it('refuses a client with no certificate, and one whose certificate another CA signed', async () => {
    const { ca } = await pem(nodeA);
    const anonymous = await exchange({ ca });
    assert.equal(anonymous.said, '', 'the handler never ran');
    assert.match(anonymous.ended, /CERTIFICATE_REQUIRED|ECONNRESET|closed/);
    const stranger = await pem(await makeClusterCertificates(join(dir, 'elsewhere'), { node: 'x' }));
    const foreign = await exchange({ ca, cert: stranger.cert, key: stranger.key });
    assert.equal(foreign.said, '', 'the handler never ran');
  });

  it('gives the node listener mutual TLS from the files, and refuses a node port without all three in one line', async () => {
    const none = { CLEAVE_CLUSTER_CA: undefined, CLEAVE_CLUSTER_CERT: undefined, CLEAVE_CLUSTER_KEY: undefined };
    assert.equal(await loadClusterTls({ CLEAVE_NODE_PORT: undefined, ...none }), undefined);
    const files = { CLEAVE_CLUSTER_CA: nodeA.ca, CLEAVE_CLUSTER_CERT: nodeA.cert, CLEAVE_CLUSTER_KEY: nodeA.key };
    const tls = await loadClusterTls({ CLEAVE_NODE_PORT: 0, ...files });
    assert.equal(tls?.clientCa, await readFile(nodeA.ca, 'utf8'));
    await assert.rejects(
      loadClusterTls({ CLEAVE_NODE_PORT: 0, ...files, CLEAVE_CLUSTER_KEY: undefined }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'CLEAVE_CLUSTER_KEY',
    );
    await assert.rejects(
      loadClusterTls({ CLEAVE_NODE_PORT: 0, ...files, CLEAVE_CLUSTER_CA: join(dir, 'missing.crt') }),
      (error: unknown) => error instanceof ConfigError && /CLEAVE_CLUSTER_CA: cannot read/.test(error.message),
    );
  });
});
