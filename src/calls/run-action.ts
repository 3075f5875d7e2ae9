// Runs one action where it lives: input validated, handler under the call's deadline, output
// validated. Shared by the in-process call and the split replica's call server, so an
// action behaves the same together or split: a CleaveError reaches the caller as it was
// thrown (the same class, across processes too), anything else as CLEAVE_INTERNAL with the
// details left in this process's log.

import type { Logger } from 'pino';
import type { ActionDefinition } from '../app/action.ts';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { CallTimeoutError, CleaveError, InternalError, ValidationError } from '../errors.ts';
import { toFieldError, validate } from '../http/validate.ts';
import { Deadlines, Expiring } from './deadlines.ts';
import type { CallContext } from './call-context.ts';

const deadlines = new Deadlines();

export function runAction(
  definition: ActionDefinition,
  input: unknown,
  context: CallContext,
  log: Logger,
): Promise<unknown> {
  const schema = definition.input;
  if (!schema) return run(definition, input, context, log);
  try {
    const checked = schema['~standard'].validate(input);
    // Most schemas answer at once: no extra microtask for them.
    if (checked instanceof Promise) {
      return checked.then((result) => run(definition, valid(result, 'input'), context, log));
    }
    return run(definition, valid(checked, 'input'), context, log);
  } catch (error) {
    return Promise.reject(failure(definition, error, context, log));
  }
}

/**
 * No async function here, and no then() unless the output has a schema: each would add a
 * promise and a microtask to every call, and a small action costs little more than that.
 */
function run(definition: ActionDefinition, input: unknown, context: CallContext, log: Logger): Promise<unknown> {
  let output: unknown;
  try {
    output = definition.handler(input, context);
  } catch (error) {
    return Promise.reject(failure(definition, error, context, log));
  }
  const settled =
    output instanceof Promise ? new TimedRun(definition, context, log).watch(output) : Promise.resolve(output);
  const schema = definition.output;
  if (!schema) return settled;
  return settled.then(async (value) => {
    try {
      return await validate(schema, value, 'output');
    } catch (error) {
      // The callee broke its own promise: its bug, not the caller's input.
      log.error({ err: error, requestId: context.requestId, action: definition.id }, 'action output failed its schema');
      throw new InternalError(`${definition.id} returned an invalid output`);
    }
  });
}

/** A CleaveError crosses as it is; anything else is logged here and crosses as CLEAVE_INTERNAL. */
function failure(definition: ActionDefinition, error: unknown, context: CallContext, log: Logger): CleaveError {
  if (error instanceof CleaveError) return error;
  log.error({ err: error, requestId: context.requestId, action: definition.id }, 'action failed');
  return new InternalError('internal error');
}

/**
 * One pending in-process action under its deadline. A class, not closures: this runs once per
 * call, and each named closure costs an allocation (and, under tsx, a defineProperty).
 */
class TimedRun extends Expiring {
  readonly deadline: number;
  #resolve!: (value: unknown) => void;
  #reject!: (error: Error) => void;

  readonly definition: ActionDefinition;
  readonly context: CallContext;
  readonly log: Logger;

  constructor(definition: ActionDefinition, context: CallContext, log: Logger) {
    super();
    this.definition = definition;
    this.context = context;
    this.log = log;
    // Already the sooner of the action's timeout and what the caller has left (ActionCaller).
    this.deadline = context.deadline;
  }

  watch(work: Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      deadlines.add(this);
      work.then(
        (value) => this.#settle(value),
        (error: unknown) => this.#fail(error),
      );
    });
  }

  /** Past the deadline the call fails and the action's signal aborts, so work it passed the signal to stops. */
  expire(): void {
    const error = new CallTimeoutError(this.definition.id, this.context.timeoutMs);
    // Rejected first: an action that settles when its signal aborts must not win the race.
    this.#reject(error);
    this.context.cancel(error);
  }

  #settle(value: unknown): void {
    deadlines.delete(this);
    this.#resolve(value);
  }

  #fail(error: unknown): void {
    deadlines.delete(this);
    this.#reject(failure(this.definition, error, this.context, this.log));
  }
}

function valid(result: StandardSchemaV1.Result<unknown>, part: 'input'): unknown {
  if (!result.issues) return result.value;
  throw new ValidationError(part, result.issues.map(toFieldError));
}
