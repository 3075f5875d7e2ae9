// Errors cross process boundaries (IPC today, calls between services later)
// as plain data and come back as the same class, so code on the far side can
// still branch on `instanceof` and `code`. Never a stack: it stays in the log
// of the process where the error happened.

import * as errors from '../errors.ts';
import type { CleaveError, FieldError } from '../errors.ts';

export interface WireError {
  code: string;
  message: string;
  status?: number;
  details?: unknown;
  retryAfterSeconds?: number;
}

type Details = Record<string, unknown>;

/** Rebuilds one class from its wire form; the message is the sender's, verbatim. */
const REBUILD: Record<string, (wire: WireError, details: Details) => CleaveError> = {
  CLEAVE_BAD_REQUEST: (w) => new errors.BadRequestError(w.message),
  CLEAVE_INVALID_JSON: (w) => new errors.InvalidJsonError(w.message),
  CLEAVE_VALIDATION_FAILED: (_w, d) =>
    new errors.ValidationError((d.part as 'body') ?? 'body', (d.fields as FieldError[]) ?? []),
  CLEAVE_USAGE: (w) => new errors.UsageError(w.message),
  CLEAVE_EXPORT_REFUSED: (w) => new errors.ExportError(w.message),
  CLEAVE_UNAUTHORIZED: (w) => new errors.UnauthorizedError(w.message),
  CLEAVE_ROUTE_NOT_FOUND: (w) => new errors.RouteNotFoundError(w.message),
  CLEAVE_METHOD_NOT_ALLOWED: (_w, d) => new errors.MethodNotAllowedError((d.allow as string[]) ?? []),
  CLEAVE_REQUEST_TIMEOUT: (w) => new errors.RequestTimeoutError(w.message),
  CLEAVE_URI_TOO_LONG: (w) => new errors.UriTooLongError(w.message),
  CLEAVE_RATE_LIMITED: (w) => new errors.RateLimitedError(w.message, w.retryAfterSeconds ?? 1),
  CLEAVE_STORE_CONFLICT: (_w, d) =>
    new errors.StoreConflictError(String(d.collection), String(d.key), Number(d.expected), Number(d.actual)),
  CLEAVE_BODY_TOO_LARGE: (_w, d) => new errors.BodyTooLargeError(Number(d.limit)),
  CLEAVE_UNSUPPORTED_MEDIA_TYPE: (w) => new errors.UnsupportedMediaTypeError(w.message),
  CLEAVE_HEADERS_TOO_LARGE: (w) => new errors.HeadersTooLargeError(w.message),
  CLEAVE_HTTP_ERROR: (w, d) => {
    const { reason, ...rest } = d;
    return new errors.HttpError(w.status ?? 500, text(reason, 'ERROR'), w.message, { details: rest });
  },
  CLEAVE_INTERNAL: (w) => new errors.InternalError(w.message),
  CLEAVE_TASK_FAILED: (w, d) => withMessage(new errors.TaskFailedError(text(d.task), ''), w.message),
  CLEAVE_TASK_WORKER_LOST: (w, d) => withMessage(new errors.TaskWorkerLostError(text(d.task), ''), w.message),
  CLEAVE_TASK_NOT_FOUND: (w) => new errors.TaskNotFoundError(w.message),
  CLEAVE_TASK_QUEUE_FULL: (w) => new errors.TaskQueueFullError(w.message),
  CLEAVE_STORE_CORRUPT: (w) => new errors.StoreCorruptError(w.message),
  CLEAVE_STORE_UNAVAILABLE: (w) => new errors.StoreUnavailableError(w.message),
  CLEAVE_STORE_KEY_INVALID: (w) => new errors.InvalidKeyError(w.message),
  CLEAVE_CLIENT_CLOSED: (w) => new errors.ClientClosedError(w.message),
  CLEAVE_CONFIG_INVALID: (w, d) => withMessage(new errors.ConfigError(text(d.variable), ''), w.message),
  CLEAVE_APP_INVALID: (w) => new errors.AppDefinitionError(w.message),
  CLEAVE_LISTEN_FAILED: (w) => new errors.ListenFailedError(w.message),
  CLEAVE_SUPERVISOR_UNAVAILABLE: (w) => new errors.SupervisorUnavailableError(w.message),
  CLEAVE_REDIS_UNAVAILABLE: (w) => new errors.RedisUnavailableError(w.message),
  CLEAVE_NATS_UNAVAILABLE: (w) => new errors.NatsUnavailableError(w.message),
  CLEAVE_SHUTTING_DOWN: (w) => new errors.ShuttingDownError(w.message),
  CLEAVE_UPSTREAM_UNAVAILABLE: (w) => new errors.UpstreamUnavailableError(w.message),
  CLEAVE_NODE_DECLINED: (w) => new errors.NodeDeclinedError(w.message),
  CLEAVE_UPSTREAM_TIMEOUT: (w) => new errors.UpstreamTimeoutError(w.message),
  CLEAVE_HANDLER_TIMEOUT: (_w, d) => new errors.HandlerTimeoutError(Number(d.timeoutMs)),
  CLEAVE_CALL_TIMEOUT: (_w, d) => new errors.CallTimeoutError(text(d.action), Number(d.timeoutMs)),
  CLEAVE_ACTION_NOT_FOUND: (w) => new errors.ActionNotFoundError(w.message),
  CLEAVE_COLLECTION_FORBIDDEN: (w) => new errors.CollectionAccessError(w.message),
};

function text(value: unknown, fallback = '?'): string {
  return typeof value === 'string' ? value : fallback;
}

function withMessage<E extends Error>(error: E, message: string): E {
  error.message = message;
  return error;
}

export function toWire(error: unknown): WireError {
  if (error instanceof errors.CleaveError) {
    const details: Details = { ...(error.details as Details | undefined) };
    if (error instanceof errors.MethodNotAllowedError) details.allow = error.allow;
    if (error instanceof errors.TaskFailedError || error instanceof errors.TaskWorkerLostError)
      details.task = error.task;
    if (error instanceof errors.ConfigError) details.variable = error.variable;
    const wire: WireError = { code: error.code, message: error.message, status: error.status, details };
    if (error.retryAfterSeconds !== undefined) wire.retryAfterSeconds = error.retryAfterSeconds;
    return wire;
  }
  // Anything else is an internal failure; its message may say too much to cross.
  return { code: 'CLEAVE_INTERNAL', message: 'internal error', status: 500 };
}

export function fromWire(wire: WireError): CleaveError {
  const rebuild = REBUILD[wire.code];
  if (!rebuild) return new errors.InternalError(`${wire.code}: ${wire.message}`);
  const error = rebuild(wire, (wire.details as Details | undefined) ?? {});
  if (wire.retryAfterSeconds !== undefined) {
    // Set after construction: a class that takes no options still keeps the sender's hint.
    Object.defineProperty(error, 'retryAfterSeconds', { value: wire.retryAfterSeconds });
  }
  return error;
}
