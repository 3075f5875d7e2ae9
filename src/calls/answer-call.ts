// How this process answers a call another process sent, whatever carried it (a replica's
// framed unix socket, or NATS from another node): the action found, the caller's deadline
// kept (as ms left: two processes' clocks need not agree) and capped by the action's own,
// the output or a wire error. One home, so both transports answer alike.

import type { ActionDefinition } from '../app/action.ts';
import { ActionNotFoundError, CleaveError, InternalError } from '../errors.ts';
import { carrierFrom, SpanKind, spanAround, startSpan, tracingOn } from '../observability/tracing.ts';
import { toWire } from '../shared/error-wire.ts';
import type { ActionCaller } from './action-caller.ts';
import type { CallMeta } from './call-context.ts';
import type { CallFrame } from './frames.ts';

/** What a call carries, its transport's numbering aside. */
export type CallRequest = Omit<CallFrame, 'i'>;

/** The output (`o`, absent when undefined) or the error (`e`, a wire error). */
export type CallOutcome = { o?: unknown } | { e: unknown };

/** What a caller sends for `definition`, whatever carries it: `left`, the ms its deadline leaves. */
export function callRequestOf(definition: ActionDefinition, input: unknown, meta: CallMeta, left: number): CallRequest {
  return {
    a: definition.id,
    r: meta.requestId,
    d: left,
    ...(input === undefined ? {} : { p: input }),
    ...(meta.trace === undefined ? {} : { t: meta.trace }),
  };
}

/** Runs `call` here: never throws, a failure is the outcome's `e`. */
export async function answerCall(
  caller: ActionCaller,
  local: ReadonlySet<string>,
  call: CallRequest,
): Promise<CallOutcome> {
  try {
    const definition = caller.resolve(call.a);
    if (!local.has(definition.service)) {
      throw new ActionNotFoundError(`${definition.id} is not served by this process`);
    }
    const left = Number(call.d);
    const timeoutMs = left > 0 ? Math.min(left, definition.timeoutMs) : definition.timeoutMs;
    // The action's span, a child of the caller's: its log lines and calls belong to it.
    const span = tracingOn()
      ? startSpan(
          `call ${definition.id}`,
          SpanKind.SERVER,
          { 'cleave.action': definition.id, 'cleave.request_id': String(call.r) },
          carrierFrom(call.t),
        )
      : undefined;
    const output = await spanAround(span, () =>
      caller.runHere(definition, call.p, String(call.r), Date.now() + timeoutMs, timeoutMs),
    );
    return { o: output };
  } catch (error) {
    const known = error instanceof CleaveError ? error : new InternalError('internal error', { cause: error });
    return { e: toWire(known) };
  }
}
