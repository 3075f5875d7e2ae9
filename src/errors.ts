// The one catalog of cleave's errors. Code branches on `code`, never on a message,
// and a code is never reused for another meaning. docs/errors.md lists every code
// and test/errors-catalog.test.ts keeps the two in step.

export type ErrorSource = 'client' | 'upstream' | 'internal';

export interface CleaveErrorOptions {
  cause?: unknown;
  /** Extra, client-safe detail sent in the JSON body (e.g. field errors). */
  details?: unknown;
  /** When a retry may succeed; a response with this error carries `Retry-After`. */
  retryAfterSeconds?: number;
}

export abstract class CleaveError extends Error {
  abstract readonly code: string;
  /** HTTP status a route answers with when this error escapes a handler. */
  abstract readonly status: number;
  /** True when repeating the same operation may succeed. */
  readonly retryable: boolean = false;
  abstract readonly source: ErrorSource;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: CleaveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The body a client sees: code and message, never a stack. */
  toJSON(): { error: { code: string; message: string; details?: unknown } } {
    const error: { code: string; message: string; details?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

// ---- client errors (4xx) -------------------------------------------------

export class BadRequestError extends CleaveError {
  readonly code = 'CLEAVE_BAD_REQUEST';
  readonly status = 400;
  readonly source = 'client';
}

export class InvalidJsonError extends CleaveError {
  readonly code = 'CLEAVE_INVALID_JSON';
  readonly status = 400;
  readonly source = 'client';
}

export interface FieldError {
  /** Dotted path of the offending field, '' for the whole value. */
  path: string;
  message: string;
}

export class ValidationError extends CleaveError {
  readonly code = 'CLEAVE_VALIDATION_FAILED';
  readonly status = 400;
  readonly source = 'client';
  readonly fields: FieldError[];

  constructor(part: 'body' | 'query' | 'params' | 'input' | 'output', fields: FieldError[]) {
    super(`invalid ${part}`, { details: { part, fields } });
    this.fields = fields;
  }
}

export class UnauthorizedError extends CleaveError {
  readonly code = 'CLEAVE_UNAUTHORIZED';
  readonly status = 401;
  readonly source = 'client';
  constructor(message = 'authentication required', options?: CleaveErrorOptions) {
    super(message, options);
  }
}

export class RouteNotFoundError extends CleaveError {
  readonly code = 'CLEAVE_ROUTE_NOT_FOUND';
  readonly status = 404;
  readonly source = 'client';
}

/** Over a rate limit, or blocked after failed logins: 429 with Retry-After. */
export class RateLimitedError extends CleaveError {
  readonly code = 'CLEAVE_RATE_LIMITED';
  readonly status = 429;
  readonly source = 'client';
  override readonly retryable = true;
  /** The limit that was hit, for the X-RateLimit-* headers of the 429. */
  readonly limit: number | undefined;
  constructor(message: string, retryAfterSeconds: number, limit?: number) {
    super(message, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
    this.limit = limit;
  }
}

export class MethodNotAllowedError extends CleaveError {
  readonly code = 'CLEAVE_METHOD_NOT_ALLOWED';
  readonly status = 405;
  readonly source = 'client';
  readonly allow: string[];
  constructor(allow: string[]) {
    super(`method not allowed; allowed: ${allow.join(', ')}`);
    this.allow = allow;
  }
}

export class BodyTooLargeError extends CleaveError {
  readonly code = 'CLEAVE_BODY_TOO_LARGE';
  readonly status = 413;
  readonly source = 'client';
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`, { details: { limit } });
  }
}

/**
 * The client went away before its request was complete. Nobody is left to read an answer;
 * 499 is what the access log records (nginx's "client closed request").
 */
export class ClientClosedError extends CleaveError {
  readonly code = 'CLEAVE_CLIENT_CLOSED';
  readonly status = 499;
  readonly source = 'client';
}

export class RequestTimeoutError extends CleaveError {
  readonly code = 'CLEAVE_REQUEST_TIMEOUT';
  readonly status = 408;
  readonly source = 'client';
}

export class HeadersTooLargeError extends CleaveError {
  readonly code = 'CLEAVE_HEADERS_TOO_LARGE';
  readonly status = 431;
  readonly source = 'client';
}

/** The request target is longer than the server reads (8 KiB, as nginx). */
export class UriTooLongError extends CleaveError {
  readonly code = 'CLEAVE_URI_TOO_LONG';
  readonly status = 414;
  readonly source = 'client';
}

export class UnsupportedMediaTypeError extends CleaveError {
  readonly code = 'CLEAVE_UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
  readonly source = 'client';
}

/**
 * An error a handler throws on purpose to answer with a given status, e.g.
 * `throw new HttpError(409, 'USERNAME_TAKEN', 'username is taken')`.
 * The app's own `appCode` travels in `details.reason`; `code` stays stable.
 */
export class HttpError extends CleaveError {
  readonly code = 'CLEAVE_HTTP_ERROR';
  readonly status: number;
  readonly source = 'client';
  readonly reason: string;
  constructor(status: number, reason: string, message: string, options: CleaveErrorOptions = {}) {
    super(message, { ...options, details: { reason, ...(options.details as object | undefined) } });
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be 400-599, got ${status}`);
    }
    this.status = status;
    this.reason = reason;
  }
}

// ---- upstream (the gateway's hop to a replica) ----------------------------

/** No replica could answer: none available, every try refused or reset, or one died mid-request. */
export class UpstreamUnavailableError extends CleaveError {
  readonly code = 'CLEAVE_UPSTREAM_UNAVAILABLE';
  readonly status = 502;
  readonly source = 'upstream';
  // Replicas come back (restart, autoscaler); the same request later may well succeed.
  override readonly retryable = true;
}

/**
 * Between nodes only: another node's listener had no replica to run the request and ran
 * nothing. The sending gateway tries another node; a client sees CLEAVE_UPSTREAM_UNAVAILABLE.
 */
export class NodeDeclinedError extends CleaveError {
  readonly code = 'CLEAVE_NODE_DECLINED';
  readonly status = 502;
  readonly source = 'upstream';
  override readonly retryable = true;

  constructor(message = 'the other node had no replica to run the request') {
    super(message);
  }
}

/** A replica took the request but did not answer in time (connect or response headers). */
export class UpstreamTimeoutError extends CleaveError {
  readonly code = 'CLEAVE_UPSTREAM_TIMEOUT';
  readonly status = 504;
  readonly source = 'upstream';
  // Not retryable: the replica may still be running it, and repeating slow work piles it up.
}

/** A call to another service's action was not answered before its deadline. */
export class CallTimeoutError extends CleaveError {
  readonly code = 'CLEAVE_CALL_TIMEOUT';
  readonly status = 504;
  readonly source = 'upstream';
  // Not retryable: the callee may still be running it, and the caller's own deadline is spent.
  constructor(action: string, timeoutMs: number) {
    super(`${action} did not answer within ${timeoutMs} ms`, { details: { action, timeoutMs } });
  }
}

/** `ctx.call` named an action no service declares (or one with no replica in this app). */
export class ActionNotFoundError extends CleaveError {
  readonly code = 'CLEAVE_ACTION_NOT_FOUND';
  readonly status = 500;
  readonly source = 'internal';
}

// ---- store ----------------------------------------------------------------

export class StoreConflictError extends CleaveError {
  readonly code = 'CLEAVE_STORE_CONFLICT';
  readonly status = 409;
  readonly source = 'client';
  override readonly retryable = true;
  constructor(collection: string, key: string, expected: number, actual: number) {
    super(`stale write to ${collection}/${key}: expected version ${expected}, found ${actual}`, {
      details: { collection, key, expected, actual },
    });
  }
}

/** A store key it can't hold (empty, over 512 characters, a control character): the client's, as keys come from requests. */
export class InvalidKeyError extends CleaveError {
  readonly code = 'CLEAVE_STORE_KEY_INVALID';
  readonly status = 400;
  readonly source = 'client';
}

export class StoreUnavailableError extends CleaveError {
  readonly code = 'CLEAVE_STORE_UNAVAILABLE';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
}

/** A service reached for a collection another service owns: its data is reached by calls or events. */
export class CollectionAccessError extends CleaveError {
  readonly code = 'CLEAVE_COLLECTION_FORBIDDEN';
  readonly status = 500;
  readonly source = 'internal';
}

export class StoreCorruptError extends CleaveError {
  readonly code = 'CLEAVE_STORE_CORRUPT';
  readonly status = 500;
  readonly source = 'internal';
}

// ---- tasks ----------------------------------------------------------------

export class TaskNotFoundError extends CleaveError {
  readonly code = 'CLEAVE_TASK_NOT_FOUND';
  readonly status = 500;
  readonly source = 'internal';
}

/** The queue of a service's tasks is at its bound: the work is refused, not queued (503 + Retry-After). */
export class TaskQueueFullError extends CleaveError {
  readonly code = 'CLEAVE_TASK_QUEUE_FULL';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
  constructor(message: string, options: CleaveErrorOptions = {}) {
    super(message, { retryAfterSeconds: 1, ...options });
  }
}

export class TaskFailedError extends CleaveError {
  readonly code = 'CLEAVE_TASK_FAILED';
  readonly status = 500;
  readonly source = 'internal';
  readonly task: string;
  constructor(task: string, message: string, options?: CleaveErrorOptions) {
    super(`task ${task} failed: ${message}`, options);
    this.task = task;
  }
}

/**
 * The task's worker died while running it, as often as the queue allows (a task that kills
 * its worker would kill every one). Its input was kept: with NATS, on the dead-task subject.
 */
export class TaskWorkerLostError extends CleaveError {
  readonly code = 'CLEAVE_TASK_WORKER_LOST';
  readonly status = 500;
  readonly source = 'internal';
  readonly task: string;
  constructor(task: string, message: string, options?: CleaveErrorOptions) {
    super(`task ${task} was not finished: ${message}`, options);
    this.task = task;
  }
}

// ---- start-up and internal -------------------------------------------------

export class ConfigError extends CleaveError {
  readonly code = 'CLEAVE_CONFIG_INVALID';
  readonly status = 500;
  readonly source = 'internal';
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.variable = variable;
  }
}

/** A command line cleave can't act on. */
export class UsageError extends CleaveError {
  readonly code = 'CLEAVE_USAGE';
  readonly status = 400;
  readonly source = 'client';
}

/** `cleave export` cannot express the app as asked: two services claim one path, say. */
export class ExportError extends CleaveError {
  readonly code = 'CLEAVE_EXPORT_REFUSED';
  readonly status = 500;
  readonly source = 'internal';
}

export class AppDefinitionError extends CleaveError {
  readonly code = 'CLEAVE_APP_INVALID';
  readonly status = 500;
  readonly source = 'internal';
}

/** No supervisor answers where one was expected: `cleave status` for a port nothing serves. */
export class SupervisorUnavailableError extends CleaveError {
  readonly code = 'CLEAVE_SUPERVISOR_UNAVAILABLE';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
}

/**
 * The Redis that CLEAVE_REDIS_URL names can't be reached at start: a node that would count
 * rate limits and hold cron locks on its own must not start as if it shared them.
 */
export class RedisUnavailableError extends CleaveError {
  readonly code = 'CLEAVE_REDIS_UNAVAILABLE';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
}

/**
 * The NATS that CLEAVE_NATS_URL names can't be reached at start: a node whose events would
 * reach only itself must not start as if they reached every node.
 */
export class NatsUnavailableError extends CleaveError {
  readonly code = 'CLEAVE_NATS_UNAVAILABLE';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
  constructor(message: string, options: CleaveErrorOptions = {}) {
    super(message, { retryAfterSeconds: 1, ...options });
  }
}

/** The public port can't be bound: in use by another process, or not ours to take. */
export class ListenFailedError extends CleaveError {
  readonly code = 'CLEAVE_LISTEN_FAILED';
  readonly status = 500;
  readonly source = 'internal';
}

export class InternalError extends CleaveError {
  readonly code = 'CLEAVE_INTERNAL';
  readonly status = 500;
  readonly source = 'internal';
  constructor(message = 'internal server error', options?: CleaveErrorOptions) {
    super(message, options);
  }
}

export class HandlerTimeoutError extends CleaveError {
  readonly code = 'CLEAVE_HANDLER_TIMEOUT';
  readonly status = 503;
  readonly source = 'internal';
  constructor(timeoutMs: number) {
    super(`the handler did not answer within ${timeoutMs} ms`, { details: { timeoutMs } });
  }
}

export class ShuttingDownError extends CleaveError {
  readonly code = 'CLEAVE_SHUTTING_DOWN';
  readonly status = 503;
  readonly source = 'internal';
  override readonly retryable = true;
}

export function isCleaveError(value: unknown): value is CleaveError {
  return value instanceof CleaveError;
}
