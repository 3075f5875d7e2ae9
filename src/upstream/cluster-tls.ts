// How a gateway reaches another node's listener: mutual TLS, showing this node's certificate
// and checking the other's against the cluster's CA. One home for both clients that dial it:
// the keep-alive pools (undici) and the upgrade path (node's HTTP client, a connection per
// tunnel).

import { request as httpRequest, type ClientRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { ReplicaAddress } from './replica.ts';

/** This node's certificate and key and the cluster's CA, as PEM. */
export interface ClusterTls {
  ca: string;
  cert: string;
  key: string;
}

/** TLS options for a connection to another node's listener; without `tls` the handshake fails. */
export function clusterConnectOptions(tls: ClusterTls | undefined): ConnectionOptions {
  return {
    ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
    // A node's certificate names the cluster, not a host (cluster/certificates.ts): the chain
    // to the cluster's CA is the check.
    checkServerIdentity: () => undefined,
  };
}

/** An HTTP request to `address`: over its unix socket, TCP, or another node's mutual TLS. */
export function requestTo(
  address: ReplicaAddress,
  tls: ClusterTls | undefined,
  options: RequestOptions,
): ClientRequest {
  if ('socketPath' in address) return httpRequest({ ...options, socketPath: address.socketPath });
  const at = { ...options, host: address.host, port: address.port };
  return address.tls ? httpsRequest({ ...at, ...clusterConnectOptions(tls) }) : httpRequest(at);
}
