// The upstream folder's public face: what sends to replicas needs, for the gateway and for a
// replica's ctx.call alike. A replica's state, the pools of replicas per service, which one a
// request goes to, when a failed attempt goes to another, and who tells which replicas exist.

export { tryAgain, type FailedAttempt } from './attempts.ts';
export type { HealthOptions } from './health.ts';
export { watchReplicas, type MembershipListener, type MembershipWatch } from './membership.ts';
export { pickReplica } from './pick.ts';
export { ServicePool, UpstreamPools, type UpstreamPoolsOptions } from './pools.ts';
export { Replica, type Lease, type ReplicaAddress, type ReplicaHealthMessage, type ReplicaOptions } from './replica.ts';
export type { RetryBudgetOptions } from './retry-budget.ts';
export type { UpstreamErrorMessage, UpstreamFailure } from './upstream-failure.ts';
