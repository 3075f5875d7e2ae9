// One proxied request, from pick to last byte: dispatched over the picked replica's undici pool
// with both bodies streamed (the client's request IS the upstream body; response chunks are
// written as they come, with backpressure both ways), and after a failure the decision whether
// another replica may take it — the rule nginx's proxy_next_upstream and Envoy's retry policy
// share: never once a response byte went out; any method when nothing reached the replica;
// idempotent requests without a body when the replica failed before answering.
//
// The exchange is its own undici handler, so a request costs one object of ours per attempt.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Candidates } from '../balancer/index.ts';
import { ClientClosedError, NodeDeclinedError } from '../errors.ts';
import { sendError } from '../http/respond.ts';
import type { Lease } from '../upstream/replica.ts';
import { UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
import { stripResponseHopByHop } from './hop-by-hop.ts';
import { type AffinityScope, affinitySetCookie, candidatesFor } from './affinity.ts';
import type { ResponseCache, ResponseTap } from '../cache/response-cache.ts';
import { INVALIDATE_HEADER, targetsOfHeader } from '../cache/invalidation.ts';
import type { TrustedProxies } from './forwarded.ts';
import { tryAgain } from '../upstream/attempts.ts';
import { pickReplica } from '../upstream/pick.ts';
import type { ServicePool } from '../upstream/pools.ts';
import {
  blamesReplica,
  isTimeout,
  reachedNothing,
  upstreamErrorChannel,
  upstreamFailureOf,
} from '../upstream/upstream-failure.ts';
import { DECLINED_HEADER, isRemoteNode } from '../upstream/remote-nodes.ts';
import type { UpstreamFailure } from '../upstream/upstream-failure.ts';
import type { ActiveSpan } from '../observability/tracing.ts';

export interface ExchangeSettings {
  log: Logger;
  /** Further replicas a request may try after its first. */
  maxRetries: number;
  responseTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Whose X-Forwarded-For tells the client's address, for pools that hash on it. */
  trustedProxies: TrustedProxies;
  /** Which part of a sticky cookie this listener reads and writes. */
  affinity: AffinityScope;
  /** A node listener's: an answer that ran nothing is marked so (peers.ts). */
  declines: boolean;
  /** The response cache, which a replica's X-Cleave-Invalidate reaches. */
  cache?: ResponseCache | undefined;
}

/** RFC 9110 §9.2.2; PATCH and POST are not. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class ProxyExchange implements Dispatcher.DispatchHandler {
  // What the access log reports.
  readonly started = performance.now();
  readonly requestId: string;
  path: string;
  service = '-';
  /** The route's pattern or static folder's prefix, for the metrics; '-' when none matched. */
  route = '-';
  replicaId = '-';
  retries = 0;
  cache: 'HIT' | 'MISS' | undefined;
  /** The response cache watching this response (to store it, or to invalidate after a write). */
  tap: ResponseTap | undefined;
  /** This request's span at the gateway, when traced: each failed attempt is an event of it. */
  span: ActiveSpan | undefined;

  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #settings: ExchangeSettings;
  #pool: ServicePool | undefined;
  #candidates: Candidates | undefined;
  #options: Dispatcher.DispatchOptions | undefined;
  #lease: Lease | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** The current attempt was handed a connection: bytes of it may have reached the replica. */
  #requestSent = false;
  #responseStarted = false;
  #waitingForDrain = false;
  #clientGone = false;
  #finished = false;
  #lastFailure: UpstreamFailure | undefined;
  #resume: (() => void) | undefined;
  #body: PassThrough | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, settings: ExchangeSettings, requestId: string, path: string) {
    this.#req = req;
    this.#res = res;
    this.#settings = settings;
    this.requestId = requestId;
    this.path = path;
  }

  get res(): ServerResponse {
    return this.#res;
  }

  /** `headers`: from upstreamRequestHeaders(); `target`: the normalised path and query. */
  start(pool: ServicePool, target: string, headers: string[], hasBody: boolean): void {
    this.#pool = pool;
    this.service = pool.service;
    this.#candidates = candidatesFor(pool, this.#req, this.#settings.trustedProxies, this.#settings.affinity);
    pool.budget.deposit();
    this.#options = {
      method: this.#req.method as Dispatcher.HttpMethod,
      path: target,
      headers,
      // Passed untouched until a connection is ready, so a refused attempt leaves it unread
      // for the next replica (undici reads a body only once it writes the request).
      body: hasBody ? this.#bodyStream() : null,
      headersTimeout: this.#settings.responseTimeoutMs,
      bodyTimeout: this.#settings.bodyTimeoutMs,
    };
    this.#attempt();
  }

  /** The client's connection closed (from the pipeline's `closed`): stop the upstream work. */
  clientClosed(): void {
    this.tap?.abandon();
    if (this.#finished) return;
    this.#clientGone = true;
    // Not yet connected: onRequestStart aborts as soon as the connection is there.
    this.#controller?.abort(new Error('client closed the connection'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#requestSent = true;
    if (this.#clientGone) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    stripResponseHopByHop(headers);
    const declined = headers[DECLINED_HEADER] !== undefined;
    delete headers[DECLINED_HEADER];
    // Another node had no replica to run it: a third may, and a bodiless request is whole still.
    if (declined && this.#lease !== undefined && isRemoteNode(this.#lease.replica) && this.#options?.body === null) {
      controller.abort(new NodeDeclinedError());
      return;
    }
    const invalidated = headers[INVALIDATE_HEADER];
    if (invalidated !== undefined) {
      delete headers[INVALIDATE_HEADER];
      this.#settings.cache?.invalidate(targetsOfHeader(invalidated));
    }
    // Before the gateway's own headers: the affinity cookie is this client's, not the entry's.
    this.tap?.head(statusCode, headers);
    headers['x-request-id'] = this.requestId;
    const pool = this.#pool;
    const replica = this.#lease?.replica;
    if (pool?.affinityCookie !== undefined && replica !== undefined) {
      const cookie = affinitySetCookie(this.#req, pool, replica, this.#settings.affinity);
      if (cookie !== undefined) headers['set-cookie'] = [...[headers['set-cookie'] ?? []].flat(), cookie];
    }
    try {
      this.#res.writeHead(statusCode, headers);
    } catch (error) {
      // A header node refuses to write: nothing went out, so it is a plain 502.
      controller.abort(error as Error);
      return;
    }
    this.#responseStarted = true;
    this.#lease?.replica.recordSuccess();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.tap?.data(chunk);
    if (this.#res.write(chunk) || this.#waitingForDrain) return;
    // The client reads slower than the replica writes: stop reading the replica until it
    // drains, so a large download holds a socket buffer, not the whole body.
    controller.pause();
    this.#waitingForDrain = true;
    this.#resume ??= () => {
      this.#waitingForDrain = false;
      this.#controller?.resume();
    };
    this.#res.once('drain', this.#resume);
  }

  onResponseEnd(): void {
    this.tap?.end();
    this.#releaseLease();
    this.#detachBody();
    this.#res.end();
    this.#finished = true;
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const replica = this.#lease?.replica;
    this.#releaseLease();
    if (this.#finished) return;
    if (this.#clientGone || this.#res.destroyed || (this.#req.destroyed && !this.#req.complete)) {
      // The client left first (or its upload broke): nobody to answer, and not the replica's fault.
      this.tap?.abandon();
      this.#detachBody();
      this.#finished = true;
      return;
    }
    const failure = upstreamFailureOf(error);
    this.#lastFailure = failure;
    if (replica && blamesReplica(failure)) replica.recordFailure();
    const retried = !this.#responseStarted && this.#mayRetry(failure);
    if (upstreamErrorChannel.hasSubscribers) {
      upstreamErrorChannel.publish({
        requestId: this.requestId,
        service: this.service,
        replica: this.replicaId,
        failure,
        error,
        retried,
      });
    }
    this.span?.span.addEvent('upstream attempt failed', {
      'cleave.replica': this.replicaId,
      'cleave.failure': failure,
      'cleave.retried': retried,
    });
    if (retried) {
      this.retries += 1;
      this.#attempt();
    } else if (this.#responseStarted) {
      this.tap?.abandon();
      // Part of the response is out: a cut connection is the only honest signal left.
      this.#settings.log.warn({ err: error, requestId: this.requestId, failure }, 'upstream failed mid-response');
      this.#detachBody();
      this.#res.destroy();
      this.#finished = true;
    } else {
      this.#fail(error);
    }
  }

  #attempt(): void {
    const pool = this.#pool as ServicePool;
    for (;;) {
      const replica = pickReplica(this.#candidates as Candidates);
      if (replica === undefined) return this.#fail(undefined);
      const dispatcher = pool.dispatcherOf(replica);
      if (dispatcher === undefined) continue; // removed since the pick: the next candidate
      this.replicaId = replica.id;
      this.#lease = replica.begin();
      this.#requestSent = false;
      this.#controller = undefined;
      // Errors, even synchronous ones, arrive in onResponseError.
      dispatcher.dispatch(this.#options as Dispatcher.DispatchOptions, this);
      return;
    }
  }

  #mayRetry(failure: UpstreamFailure): boolean {
    const attempt = {
      failure,
      // Whether undici wrote the request, not just what the error says: a reset can come before.
      // A node that declined had it, and ran nothing.
      reached: failure === 'declined' ? false : this.#requestSent,
      repeatable: this.#options?.body === null && IDEMPOTENT.has(this.#req.method ?? ''),
    };
    return tryAgain(attempt, this.retries, this.#settings.maxRetries, (this.#pool as ServicePool).budget);
  }

  #fail(cause: unknown): void {
    this.tap?.abandon();
    const failure = this.#lastFailure;
    if (this.#settings.declines && (failure === undefined || reachedNothing(failure))) {
      this.#res.setHeader(DECLINED_HEADER, '1');
    }
    const error =
      failure !== undefined && isTimeout(failure)
        ? new UpstreamTimeoutError(`${this.service} did not answer in time`, { cause })
        : new UpstreamUnavailableError(`no replica of ${this.service} could answer`, { cause });
    this.#detachBody();
    sendError(this.#res, error, this.requestId, this.#settings.log);
    this.#finished = true;
  }

  /**
   * The client's body reaches undici through a stream of its own: when a replica answers
   * before reading it all, undici destroys the stream it was given, and that must not be the
   * client's request, whose rest the response reads off (http/early-answer.ts).
   */
  #bodyStream(): PassThrough {
    const body = new PassThrough();
    // Its errors are undici's to report while undici reads it; before undici has it, or once it
    // let go (a refused connect, an answer given), nobody listens, and an unheard 'error'
    // would take the gateway down (review of issue 12).
    body.on('error', ignore);
    this.#req.pipe(body);
    // pipe() passes on the end, not a client that went away mid-body: undici must hear that.
    this.#req.once('close', this.#clientLeftMidBody);
    this.#body = body;
    return body;
  }

  readonly #clientLeftMidBody = (): void => {
    if (!this.#req.complete) this.#body?.destroy(new ClientClosedError('the client closed the connection mid-body'));
  };

  /** Before the answer ends: the rest of the client's body is no replica's any more. */
  #detachBody(): void {
    const body = this.#body;
    if (body === undefined) return;
    this.#body = undefined;
    this.#req.off('close', this.#clientLeftMidBody);
    this.#req.unpipe(body);
    body.destroy();
  }

  #releaseLease(): void {
    this.#lease?.release();
    this.#lease = undefined;
  }
}

function ignore(): void {}
