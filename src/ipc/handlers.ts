// How the supervisor answers replicas' calls: each port says, beside its replica-side adapter
// (src/store/ipc.ts, src/lock/ipc.ts, ...), how its methods are served, and the hub only looks
// a method up. A new port is one more set of handlers, not one more case in the hub.

import type { RpcArgs, RpcMethod, RpcResult } from './messages.ts';

/**
 * Answers one method. `caller` names the channel the call came on: a replica is
 * `<service>#<n>`; the supervisor's own channels (tools, tests) have no `#`.
 */
export type RpcHandler<M extends RpcMethod> = (caller: string, ...args: RpcArgs<M>) => Promise<RpcResult<M>>;

/** Some of the methods, each with its handler: what one port serves. */
export type RpcHandlers = { [M in RpcMethod]?: RpcHandler<M> };

/** The service a caller belongs to, or undefined for the supervisor's own channels. */
export function serviceOfCaller(caller: string): string | undefined {
  const hash = caller.indexOf('#');
  return hash < 0 ? undefined : caller.slice(0, hash);
}
