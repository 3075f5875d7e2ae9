// Runs one action where it lives: input validated, handler under the call's deadline, output
// validated. Shared by the in-process call and the split replica's action endpoint, so an
// action behaves the same together or split: a CleaveError reaches the caller as it was
// thrown (the same class, across processes too), anything else as CLEAVE_INTERNAL with the
// details left in this process's log.

import type { Logger } from 'pino';
import type { ActionDefinition } from '../app/action.ts';
import { CallTimeoutError, CleaveError, InternalError } from '../errors.ts';
import { validate } from '../http/validate.ts';
import type { CallContext } from './call-context.ts';

export async function runAction(
  definition: ActionDefinition,
  input: unknown,
  context: CallContext,
  log: Logger,
): Promise<unknown> {
  const valid = definition.input ? await validate(definition.input, input, 'input') : input;
  const remaining = context.deadline - Date.now();
  if (remaining <= 0) throw new CallTimeoutError(definition.id, 0);
  let output: unknown;
  try {
    output = await withDeadline(definition, definition.handler(valid, context), remaining, context);
  } catch (error) {
    if (error instanceof CleaveError) throw error;
    log.error({ err: error, requestId: context.requestId, action: definition.id }, 'action failed');
    throw new InternalError('internal error');
  }
  if (!definition.output) return output;
  try {
    return await validate(definition.output, output, 'output');
  } catch (error) {
    // The callee broke its own promise: its bug, not the caller's input.
    log.error({ err: error, requestId: context.requestId, action: definition.id }, 'action output failed its schema');
    throw new InternalError(`${definition.id} returned an invalid output`);
  }
}

/** Past the deadline the call fails and the action's signal aborts, so work it passed the signal to stops. */
function withDeadline(definition: ActionDefinition, result: unknown, remaining: number, context: CallContext): unknown {
  if (!(result instanceof Promise)) return result;
  // A deadline that no caller set (Infinity) still ends at the action's own timeout.
  const timeoutMs = Math.min(remaining, definition.timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new CallTimeoutError(definition.id, timeoutMs);
      // Rejected first: an action that settles when its signal aborts must not win the race.
      reject(error);
      context.cancel(error);
    }, timeoutMs);
  });
  return Promise.race([result, deadline]).finally(() => clearTimeout(timer));
}
