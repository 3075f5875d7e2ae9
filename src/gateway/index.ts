// The gateway folder's public face: the proxy pipeline, the upgrade proxy, the pools they send
// to, and the errors a client may see from them.

export { UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
export { TrustedProxies } from './forwarded.ts';
export { ServicePool, UpstreamPools, type UpstreamPoolsOptions } from './pools.ts';
export { createProxy, type ProxyOptions } from './proxy.ts';
export type { RetryBudgetOptions } from './retry-budget.ts';
export { UpgradeProxy, type UpgradeProxyOptions } from './upgrade.ts';
export type { UpstreamErrorMessage, UpstreamFailure } from './upstream-failure.ts';
