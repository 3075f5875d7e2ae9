// What went wrong on the hop to a replica, by error code (never by message): the retry rule
// and passive health both branch on it.

import diagnostics_channel from 'node:diagnostics_channel';

export type UpstreamFailure =
  /** Nothing reached a replica: refused, socket file gone, accept queue full. */
  | 'refused'
  /** The connection did not open in time; nothing was sent either. */
  | 'connect-timeout'
  /** The replica's dispatcher was closed (removed between pick and send); nothing was sent. */
  | 'removed'
  /** The connection broke after the request went out: the replica died or reset it. */
  | 'reset'
  /** No response head within the response timeout. */
  | 'headers-timeout'
  /** The response body stalled past the body timeout. */
  | 'body-timeout'
  /** The replica answered that it is stopping and ran nothing (a call's `n` frame). */
  | 'declined'
  /** Anything else: a malformed response, a header undici refuses. */
  | 'other';

const BY_CODE = new Map<string, UpstreamFailure>(
  Object.entries({
    ECONNREFUSED: 'refused',
    ENOENT: 'refused',
    // Linux answers connect() on a unix socket whose accept queue is full with EAGAIN.
    EAGAIN: 'refused',
    UND_ERR_CONNECT_TIMEOUT: 'connect-timeout',
    UND_ERR_CLOSED: 'removed',
    UND_ERR_DESTROYED: 'removed',
    UND_ERR_SOCKET: 'reset',
    ECONNRESET: 'reset',
    EPIPE: 'reset',
    UND_ERR_HEADERS_TIMEOUT: 'headers-timeout',
    UND_ERR_BODY_TIMEOUT: 'body-timeout',
    // Another node's listener answered that it had no replica to run the request.
    CLEAVE_NODE_DECLINED: 'declined',
  } satisfies Record<string, UpstreamFailure>),
);

export function upstreamFailureOf(error: unknown): UpstreamFailure {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && BY_CODE.get(code)) || 'other';
}

/** Failures that say the replica is not serving, for passive health. A slow answer is not one:
 * a slow route would otherwise eject healthy replicas one by one. */
export function blamesReplica(failure: UpstreamFailure): boolean {
  return failure === 'refused' || failure === 'connect-timeout' || failure === 'reset';
}

/** Failures where the request did not run on the replica: any method may go elsewhere. */
export function reachedNothing(failure: UpstreamFailure): boolean {
  return failure === 'refused' || failure === 'connect-timeout' || failure === 'removed' || failure === 'declined';
}

export function isTimeout(failure: UpstreamFailure): boolean {
  return failure === 'connect-timeout' || failure === 'headers-timeout' || failure === 'body-timeout';
}

/** Published for every failed attempt, retried or not (tests and tools listen here). */
export interface UpstreamErrorMessage {
  requestId: string;
  service: string;
  replica: string;
  failure: UpstreamFailure;
  error: unknown;
  /** True when another replica is tried next. */
  retried: boolean;
}

export const upstreamErrorChannel = diagnostics_channel.channel('cleave:gateway:upstream-error');
