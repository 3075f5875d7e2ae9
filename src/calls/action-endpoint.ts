// The callee's side of a split call: `POST /_cleave/actions/<service>.<name>` on a replica's
// unix socket (never on the public port: the gateway routes only the app's own routes, and
// `cleave dev` has no endpoint at all). Body `{"input": …}`; answer `200 {"output": …}`, or
// the error's status with `{"error": <wire error>}`, which the caller turns back into the
// same class. X-Request-Id carries the chain's id, X-Cleave-Deadline the ms left to answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ActionNotFoundError, CleaveError, InternalError, MethodNotAllowedError } from '../errors.ts';
import { parseBody, readBody } from '../http/body.ts';
import { toWire } from '../shared/error-wire.ts';
import type { ActionCaller } from './action-caller.ts';

export const ACTION_PATH = '/_cleave/actions/';
export const DEADLINE_HEADER = 'x-cleave-deadline';

/** Inputs are for small values (ids, forms), as request bodies are. */
const CALL_BODY_LIMIT = 1024 * 1024;

export class ActionEndpoint {
  readonly #caller: ActionCaller;
  readonly #local: ReadonlySet<string>;

  constructor(caller: ActionCaller, local: ReadonlySet<string>) {
    this.#caller = caller;
    this.#local = local;
  }

  handles(url: string | undefined): boolean {
    return url !== undefined && url.startsWith(ACTION_PATH);
  }

  /** Answers one call; resolves with the service that ran it ('-' when none), for the access log. */
  async answer(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<string> {
    let service = '-';
    let status = 200;
    let text: string;
    try {
      if (req.method !== 'POST') throw new MethodNotAllowedError(['POST']);
      const definition = this.#caller.resolve(decodeURIComponent((req.url as string).slice(ACTION_PATH.length)));
      if (!this.#local.has(definition.service)) {
        throw new ActionNotFoundError(`${definition.id} is not served by this replica`);
      }
      service = definition.service;
      const body = parseBody(await readBody(req, CALL_BODY_LIMIT), 'application/json') as { input?: unknown } | null;
      // The caller's deadline, as ms left (clocks of two processes need not agree), capped by
      // the action's own timeout.
      const left = Number(req.headers[DEADLINE_HEADER]);
      const timeoutMs = Number.isFinite(left) && left > 0 ? Math.min(left, definition.timeoutMs) : definition.timeoutMs;
      const output = await this.#caller.runHere(definition, body?.input, requestId, Date.now() + timeoutMs, timeoutMs);
      text = JSON.stringify({ output });
    } catch (error) {
      const known = error instanceof CleaveError ? error : new InternalError('internal error', { cause: error });
      status = known.status;
      text = JSON.stringify({ error: toWire(known) });
    }
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-request-id': requestId,
    });
    res.end(text);
    return service;
  }
}
