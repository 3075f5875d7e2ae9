// Calls to a service with no replica on this node: NATS request/reply on the service's call
// subject, where a queue group of its processes on every node listens (nats-responder.ts), so
// NATS hands each call to one of them. The same deadline (sent as ms left), request id, wire
// errors and retry rule as a call to a local replica (remote-actions.ts):
//
// - no process anywhere listens (NATS says so at once): nothing ran, so it is tried again
//   while the service has never answered this process (it may be starting with the node),
//   else it is 502 at once, as the gateway answers for a pool with no replica;
// - a process that was stopping and ran nothing ("n"): another is tried, whatever the action;
// - no answer before the deadline: CallTimeoutError. A callee that died mid-call looks the
//   same over NATS (nothing tells the caller), so it is never retried: the call may have run.

import type { Msg } from '@nats-io/transport-node';
import type { ActionDefinition } from '../app/action.ts';
import { CallTimeoutError, UpstreamUnavailableError } from '../errors.ts';
import { natsClient, type NatsConnection } from '../nats/connection.ts';
import { callSubject } from '../nats/subjects.ts';
import { fromWire, type WireError } from '../shared/error-wire.ts';
import type { RemoteCaller } from './action-caller.ts';
import { callRequestOf } from './answer-call.ts';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';
import type { CallMeta } from './call-context.ts';

export interface NatsCallerOptions {
  /** The app's name: its subjects, apart from other apps on the same NATS. */
  app: string;
  /** Further processes one call may try after a "not run". @default 2 */
  maxRetries?: number;
}

/** How long to wait before asking again when no process of a service listens yet. */
const NO_RESPONDERS_WAIT_MS = 100;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsCaller implements RemoteCaller {
  readonly #nats: NatsConnection;
  readonly #options: NatsCallerOptions;
  /** Services that have answered this process once: none listening is then a failure. */
  readonly #answered = new Set<string>();

  /** `nats` is started and stopped by whoever made it (the process's ports). */
  constructor(nats: NatsConnection, options: NatsCallerOptions) {
    this.#nats = nats;
    this.#options = options;
  }

  async call(definition: ActionDefinition, input: unknown, meta: CallMeta, timeoutMs: number): Promise<unknown> {
    const subject = callSubject(this.#options.app, definition.service);
    const unavailable = (cause?: unknown) =>
      new UpstreamUnavailableError(
        `no process of ${definition.service} on any node could answer ${definition.id}`,
        cause === undefined ? undefined : { cause },
      );
    let retries = 0;
    for (;;) {
      const left = meta.deadline - Date.now();
      if (left <= 0) throw new CallTimeoutError(definition.id, timeoutMs);
      const request = callRequestOf(definition, input, meta, left);
      // A value JSON can't carry throws here, before anything is sent.
      const data = encoder.encode(JSON.stringify(request));
      let reply: Msg;
      try {
        reply = await this.#nats.client.request(subject, data, { timeout: left });
      } catch (error) {
        if (isNoResponders(error)) {
          if (this.#answered.has(definition.service)) throw unavailable(error);
          await new Promise((resolve) => setTimeout(resolve, Math.min(NO_RESPONDERS_WAIT_MS, left)));
          continue;
        }
        if (isTimeout(error)) {
          throw new CallTimeoutError(definition.id, timeoutMs);
        }
        // Closed, draining, or a payload over the server's limit: nothing was sent.
        throw unavailable(error);
      }
      const answer = parseUntrustedJson(decoder.decode(reply.data)) as { o?: unknown } | { e: WireError } | { n: 1 };
      this.#answered.add(definition.service);
      if ('e' in answer) throw fromWire(answer.e);
      if (!('n' in answer)) return answer.o;
      // That process was stopping and ran nothing: another may take it, whatever the action.
      if (retries++ >= (this.#options.maxRetries ?? 2)) throw unavailable();
    }
  }
}

function isNoResponders(error: unknown): boolean {
  const natsErrors = natsClient().errors;
  return (
    error instanceof natsErrors.NoRespondersError ||
    (error instanceof natsErrors.RequestError && error.isNoResponders())
  );
}

function isTimeout(error: unknown): boolean {
  const natsErrors = natsClient().errors;
  return (
    error instanceof natsErrors.TimeoutError ||
    (error instanceof natsErrors.RequestError && error.cause instanceof natsErrors.TimeoutError)
  );
}
