// The upstream folder's public face: a replica's state as the gateway sees it.

export type { HealthOptions } from './health.ts';
export { Replica, type Lease, type ReplicaAddress, type ReplicaHealthMessage, type ReplicaOptions } from './replica.ts';
