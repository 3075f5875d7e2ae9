// The callee's side of calls between nodes: every process that runs a service with actions
// listens on the service's call subject (nats/subjects.ts) in a NATS queue group named after
// the service, so each call from another node reaches one of them (nats-caller.ts), and
// answers it as a call over its unix socket is answered (answer-call.ts).

import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { InternalError } from '../errors.ts';
import type { NatsConnection } from '../nats/connection.ts';
import { callSubject, token } from '../nats/subjects.ts';
import { InFlightMeter } from '../observability/in-flight.ts';
import { toWire } from '../shared/error-wire.ts';
import type { ActionCaller } from './action-caller.ts';
import { answerCall, type CallRequest } from './answer-call.ts';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';

export interface NatsResponderOptions {
  app: string;
  caller: ActionCaller;
  /** The services this process runs: it answers for those with actions. */
  local: ReadonlySet<string>;
  log: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsResponder {
  readonly #nats: NatsConnection;
  readonly #options: NatsResponderOptions;
  readonly #subscriptions: Subscription[] = [];
  /** Calls being run here: the autoscaler counts them with the HTTP requests. */
  readonly inFlight = new InFlightMeter();
  #stopping = false;

  /** `nats` is started and stopped by whoever made it (the process's ports). */
  constructor(nats: NatsConnection, options: NatsResponderOptions) {
    this.#nats = nats;
    this.#options = options;
  }

  /** Listens for the calls of each service of this process that has actions. */
  start(services: ReadonlyArray<{ name: string; actions: ReadonlyMap<string, unknown> }>): void {
    const { app } = this.#options;
    for (const service of services) {
      if (service.actions.size === 0 || !this.#options.local.has(service.name)) continue;
      this.#subscriptions.push(
        this.#nats.client.subscribe(callSubject(app, service.name), {
          queue: token(service.name),
          callback: (error, message) => {
            if (error === null) void this.#answer(message);
          },
        }),
      );
    }
  }

  /**
   * Takes no new call (the subscriptions drain: NATS sends new calls to the group's other
   * members), answers those already here, waits up to `graceMs` for those running.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#subscriptions.splice(0).map((subscription) => subscription.drain().catch(() => {})));
    const deadline = Date.now() + graceMs;
    while (this.inFlight.current > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async #answer(message: Msg): Promise<void> {
    let call: CallRequest;
    try {
      call = parseUntrustedJson(decoder.decode(message.data)) as CallRequest;
    } catch (error) {
      // Only cleave's callers publish here; a message that isn't theirs gets no answer.
      this.#options.log.warn({ err: error, subject: message.subject }, 'malformed call message ignored');
      return;
    }
    let outcome: unknown;
    if (this.#stopping) {
      outcome = { n: 1 };
    } else {
      this.inFlight.change(1);
      outcome = await answerCall(this.#options.caller, this.#options.local, call);
      this.inFlight.change(-1);
    }
    const respond = (value: unknown) => message.respond(encoder.encode(JSON.stringify(value)));
    try {
      respond(outcome);
    } catch (error) {
      // An output JSON can't carry (a cycle, a BigInt) or over the server's payload limit: the
      // caller hears so rather than waiting out its deadline.
      this.#options.log.error({ err: error, requestId: call.r, action: call.a }, 'call output cannot be sent');
      try {
        respond({ e: toWire(new InternalError(`${call.a} returned an output that can't be sent`)) });
      } catch {
        // The connection is closed: the caller times out.
      }
    }
  }
}
