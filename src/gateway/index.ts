// The gateway folder's public face: the proxy pipeline, the upgrade proxy, and the errors a
// client may see from them. The pools they send to are src/upstream's.

export { UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
export { TrustedProxies } from './forwarded.ts';
export { createProxy, type ProxyOptions } from './proxy.ts';
export { UpgradeProxy, type UpgradeProxyOptions } from './upgrade.ts';
