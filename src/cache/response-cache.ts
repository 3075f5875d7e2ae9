// The response cache of the edge (the gateway when split, the one process when together):
// GET and HEAD answers kept in memory, bounded in bytes (lru-cache), keyed by method,
// normalised target and the request headers the response varies on. Concurrent misses of a
// key known to be cacheable wait for the first one's response instead of reaching a replica
// each (the first is the "fill", the others "wait"), as nginx's proxy_cache_lock does.
//
// Entries leave on expiry, on eviction, when an unsafe request to their path succeeds
// (RFC 9111 §4.4), by path or prefix (ctx.invalidate) and by route (the route's
// `cache.invalidatedBy` events).

import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { RouteCacheOptions, RouteDefinition } from '../app/route.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { carriesCredentials, freshnessOf, type Freshness } from './policy.ts';

export interface ResponseCacheOptions {
  /** Memory for bodies and headers together. @default 64 MiB */
  maxBytes?: number;
  /** Larger responses pass through unstored. @default 1 MiB */
  maxEntryBytes?: number;
}

export interface CachedResponse {
  readonly key: string;
  /** Normalised path, no query: what invalidation matches on. */
  readonly path: string;
  /** `GET /api/posts/:id`: the route it came from, for invalidation by event. */
  readonly route: string | undefined;
  readonly method: string;
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly storedAt: number;
  /** Seconds it had already spent in caches when stored. */
  readonly age: number;
  readonly shared: boolean;
}

/** Headers as undici hands them over or as a handler's bag holds them. */
export type ResponseHeaders = OutgoingHttpHeaders | Record<string, string | string[] | undefined>;

/** Sees one response go out: its head, its body chunks, and how it ended. */
export interface ResponseTap {
  head(status: number, headers: ResponseHeaders): void;
  data(chunk: Buffer | string): void;
  end(): void;
  /** The response broke off or was never completed; safe to call more than once. */
  abandon(): void;
}

export type CacheDecision =
  | { kind: 'hit'; entry: CachedResponse }
  | { kind: 'wait'; entry: Promise<CachedResponse | undefined> }
  | { kind: 'fill'; fill: ResponseTap }
  | { kind: 'pass' };

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  coalesced: number;
}

/** What is remembered of a target once a response to it was stored: which headers vary it, and for whom. */
interface Known {
  vary: readonly string[];
  shared: boolean;
}

const PASS: CacheDecision = { kind: 'pass' };
const NO_VARY: readonly string[] = [];
/** Longest a coalesced request waits for the first one's answer before asking a replica itself. */
const LOCK_TIMEOUT_MS = 5000;
/** Per-entry bookkeeping counted against maxBytes next to the body and headers. */
const ENTRY_OVERHEAD = 256;

/** Set by a request's response, not by the stored one: never kept with an entry. */
const UNSTORED_HEADERS = new Set([
  'age',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-cache',
  'x-request-id',
  'set-cookie',
  'strict-transport-security',
]);

export class ResponseCache {
  readonly #entries: LRUCache<string, CachedResponse>;
  readonly #maxEntryBytes: number;
  /** Target → what its stored responses said; outlives them, so the next miss knows to coalesce. */
  readonly #known = new LRUCache<string, Known>({ max: 10_000 });
  readonly #byPath = new Map<string, Set<string>>();
  readonly #byRoute = new Map<string, Set<string>>();
  readonly #flights = new Map<string, CacheFill>();
  /**
   * Every fill whose response is still on its way, linked through the fills themselves (a
   * Set would hash a fresh object on every GET): an invalidation that matches one spoils it.
   */
  #filling: CacheFill | undefined;
  #hits = 0;
  #misses = 0;
  #coalesced = 0;

  constructor(options: ResponseCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxEntryBytes = Math.min(options.maxEntryBytes ?? 1024 * 1024, maxBytes);
    this.#entries = new LRUCache<string, CachedResponse>({
      maxSize: maxBytes,
      // Expired entries are dropped when next asked for, or evicted by size: no timer per entry.
      ttlAutopurge: false,
      dispose: (entry, key) => this.#unindex(entry, key),
    });
  }

  /** Where the request goes: a stored answer, a fill in progress to wait for, a fill of its own, or past. */
  consult(req: IncomingMessage, path: string, search: string, route: RouteDefinition | undefined): CacheDecision {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return PASS;
    const { headers } = req;
    if (headers.range !== undefined) return PASS;
    const target = search === '' ? path : `${path}?${sortedQuery(search)}`;
    const declared = route?.options.cache;
    const known = this.#known.get(target);
    const credentials = carriesCredentials(headers);
    if (credentials && declared?.public !== true && known?.shared !== true) return PASS;
    const variant = variantOf(known?.vary ?? NO_VARY, headers);
    const key = `${method} ${target}${variant}`;
    // HEAD is GET without the body: a stored GET answers it too.
    const entry =
      this.#entries.get(key) ?? (method === 'HEAD' ? this.#entries.get(`GET ${target}${variant}`) : undefined);
    if (entry !== undefined && (entry.shared || !credentials)) {
      this.#hits += 1;
      return { kind: 'hit', entry };
    }
    this.#misses += 1;
    // Its answer may be a 304 meant for this client's copy alone.
    if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) return PASS;
    // Only where a response is expected to be stored: waiting on an uncacheable one would
    // queue every request of the key behind the first.
    const coalesce = declared !== undefined || known !== undefined;
    if (coalesce) {
      const flight = this.#flights.get(key);
      if (flight !== undefined) {
        this.#coalesced += 1;
        return { kind: 'wait', entry: flight.waitFor(credentials) };
      }
    }
    const fill = new CacheFill(this, {
      key,
      method,
      target,
      path,
      route: route === undefined ? undefined : routeKeyOf(route),
      declared,
      assumedVary: known?.vary ?? NO_VARY,
      requestHeaders: headers,
      credentials,
    });
    fill.next = this.#filling;
    if (this.#filling) this.#filling.previous = fill;
    this.#filling = fill;
    if (coalesce) this.#flights.set(key, fill);
    return { kind: 'fill', fill };
  }

  /** After an unsafe request (POST, PUT, PATCH, DELETE) to `path` answered: drop what it may have changed. */
  afterUnsafe(path: string, status: number, headers: ResponseHeaders): void {
    if (status < 200 || status >= 400) return;
    const targets = [path];
    for (const name of ['location', 'content-location']) {
      const value = headers[name];
      // Same-origin paths only (RFC 9111 §4.4): another host's entries are not ours to judge.
      if (typeof value === 'string' && value.startsWith('/') && !value.startsWith('//')) {
        targets.push(value.split('?', 1)[0] as string);
      }
    }
    this.invalidate(targets);
  }

  /** Watches an unsafe request's response head, for afterUnsafe (the gateway's side of it). */
  unsafeTap(path: string): ResponseTap {
    return {
      head: (status, headers) => this.afterUnsafe(path, status, headers),
      data() {},
      end() {},
      abandon() {},
    };
  }

  /** Drops every entry at each target: an exact path (any query, method or variant), or `prefix*`. */
  invalidate(targets: readonly string[]): number {
    let dropped = 0;
    for (const target of targets) {
      const prefix = target.endsWith('*') ? target.slice(0, -1) : undefined;
      for (let fill = this.#filling; fill !== undefined; fill = fill.next) {
        if (prefix === undefined ? fill.path === target : fill.path.startsWith(prefix)) fill.spoil();
      }
      if (prefix !== undefined) {
        for (const path of [...this.#byPath.keys()]) if (path.startsWith(prefix)) dropped += this.#dropPath(path);
      } else {
        dropped += this.#dropPath(target);
      }
    }
    return dropped;
  }

  /** Drops every entry of one route (`GET /api/posts/:id`). */
  invalidateRoute(route: string): number {
    for (let fill = this.#filling; fill !== undefined; fill = fill.next) if (fill.route === route) fill.spoil();
    return this.#dropKeys(this.#byRoute.get(route));
  }

  stats(): CacheStats {
    return {
      entries: this.#entries.size,
      bytes: this.#entries.calculatedSize,
      hits: this.#hits,
      misses: this.#misses,
      coalesced: this.#coalesced,
    };
  }

  /** @internal From CacheFill: its response, complete and storable. */
  store(entry: CachedResponse, freshness: Freshness, target: string): boolean {
    const size = entry.body.length + headersSize(entry.headers) + entry.key.length + ENTRY_OVERHEAD;
    if (size > this.#maxEntryBytes) return false;
    this.#entries.set(entry.key, entry, { ttl: freshness.ttlMs, size });
    if (!this.#entries.has(entry.key)) return false;
    addTo(this.#byPath, entry.path, entry.key);
    if (entry.route !== undefined) addTo(this.#byRoute, entry.route, entry.key);
    this.#known.set(target, { vary: freshness.vary, shared: freshness.shared });
    return true;
  }

  /** @internal From CacheFill: it settled, so requests of its key no longer wait on it. */
  landed(fill: CacheFill): void {
    if (fill.previous) fill.previous.next = fill.next;
    else if (this.#filling === fill) this.#filling = fill.next;
    if (fill.next) fill.next.previous = fill.previous;
    fill.previous = fill.next = undefined;
    if (this.#flights.get(fill.key) === fill) this.#flights.delete(fill.key);
  }

  get maxEntryBytes(): number {
    return this.#maxEntryBytes;
  }

  #dropPath(path: string): number {
    return this.#dropKeys(this.#byPath.get(path));
  }

  #dropKeys(keys: Set<string> | undefined): number {
    if (keys === undefined) return 0;
    let dropped = 0;
    // delete() disposes, which edits the very set: iterate a copy.
    for (const key of [...keys]) if (this.#entries.delete(key)) dropped += 1;
    return dropped;
  }

  #unindex(entry: CachedResponse, key: string): void {
    removeFrom(this.#byPath, entry.path, key);
    if (entry.route !== undefined) removeFrom(this.#byRoute, entry.route, key);
  }
}

interface FillSpec {
  key: string;
  method: string;
  target: string;
  path: string;
  route: string | undefined;
  declared: RouteCacheOptions | undefined;
  assumedVary: readonly string[];
  requestHeaders: IncomingHttpHeaders;
  /** The request had a cookie or Authorization: its answer is stored only if it says it is shared. */
  credentials: boolean;
}

/** The first miss of a key: watches its response go out and stores it if it may be stored. */
class CacheFill implements ResponseTap {
  readonly key: string;
  readonly target: string;
  readonly path: string;
  readonly route: string | undefined;
  /** @internal ResponseCache's list of fills in progress. */
  previous: CacheFill | undefined;
  /** @internal */
  next: CacheFill | undefined;
  readonly #cache: ResponseCache;
  readonly #spec: FillSpec;
  /** Made only when a request waits on this fill: most fills have no waiter. */
  #settled: Promise<CachedResponse | undefined> | undefined;
  #resolve: ((entry: CachedResponse | undefined) => void) | undefined;
  #outcome: CachedResponse | undefined;
  #done = false;
  /** An invalidation matched it while its response was on the way: that response may be stale. */
  #spoiled = false;
  #waitable: Promise<CachedResponse | undefined> | undefined;
  #freshness: Freshness | undefined;
  #status = 0;
  #headers: OutgoingHttpHeaders | undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(cache: ResponseCache, spec: FillSpec) {
    this.#cache = cache;
    this.#spec = spec;
    this.key = spec.key;
    this.target = spec.target;
    this.path = spec.path;
    this.route = spec.route;
  }

  /**
   * What a coalesced request waits for: this fill's entry, or undefined — ask a replica — when
   * it is not stored, not for a request with credentials, or not there within
   * LOCK_TIMEOUT_MS (as nginx's proxy_cache_lock_timeout: a fill that a slow client reads
   * slowly must not hold everyone else).
   */
  waitFor(credentials: boolean): Promise<CachedResponse | undefined> {
    this.#waitable ??= new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), LOCK_TIMEOUT_MS);
      void this.#settledPromise().then((entry) => {
        clearTimeout(timer);
        resolve(entry);
      });
    });
    if (!credentials) return this.#waitable;
    return this.#waitable.then((entry) => (entry?.shared ? entry : undefined));
  }

  /** Resolves once: with the stored entry, or undefined when waiters must ask a replica themselves. */
  #settledPromise(): Promise<CachedResponse | undefined> {
    this.#settled ??= this.#done ? Promise.resolve(this.#outcome) : new Promise((resolve) => (this.#resolve = resolve));
    return this.#settled;
  }

  spoil(): void {
    this.#spoiled = true;
  }

  head(status: number, headers: ResponseHeaders): void {
    if (this.#done) return;
    const freshness = freshnessOf(status, headers, this.#spec.declared);
    headers['x-cache'] = 'MISS';
    if (freshness === undefined) return this.#settle(undefined);
    this.#freshness = freshness;
    this.#status = status;
    this.#headers = storedHeaders(headers);
    this.#chunks = [];
    this.#bytes = 0;
  }

  data(chunk: Buffer | string): void {
    if (this.#done || this.#freshness === undefined) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#bytes += bytes.length;
    if (this.#bytes > this.#cache.maxEntryBytes) return this.#settle(undefined);
    this.#chunks.push(bytes);
  }

  end(): void {
    const freshness = this.#freshness;
    if (this.#done || freshness === undefined) return;
    const spec = this.#spec;
    // The response varies on other headers than this key assumed: store it under its own key;
    // requests waiting on this one may differ in those headers, so they ask for themselves.
    const sameVariant = freshness.vary.join() === spec.assumedVary.join();
    const key = sameVariant
      ? spec.key
      : `${spec.method} ${spec.target}${variantOf(freshness.vary, spec.requestHeaders)}`;
    const body = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#bytes);
    const headers = this.#headers as OutgoingHttpHeaders;
    if (spec.method === 'GET' && this.#status !== 204 && this.#status !== 304) headers['content-length'] = body.length;
    const entry: CachedResponse = {
      key,
      path: spec.path,
      route: spec.route,
      method: spec.method,
      status: this.#status,
      headers,
      body,
      storedAt: Date.now(),
      age: freshness.age,
      shared: freshness.shared,
    };
    // RFC 9111 §3.5: an answer to a request with credentials is stored only if it says shared.
    const storable = !this.#spoiled && (!spec.credentials || freshness.shared);
    const stored = storable && this.#cache.store(entry, freshness, spec.target);
    this.#settle(stored && sameVariant ? entry : undefined);
  }

  abandon(): void {
    this.#settle(undefined);
  }

  #settle(entry: CachedResponse | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#chunks = [];
    this.#cache.landed(this);
    this.#outcome = entry;
    this.#resolve?.(entry);
  }
}

/** The cache CLEAVE_CACHE_MAX_BYTES and CLEAVE_CACHE_MAX_ENTRY_BYTES describe. */
export function responseCacheOf(
  config: Pick<RuntimeConfig, 'CLEAVE_CACHE_MAX_BYTES' | 'CLEAVE_CACHE_MAX_ENTRY_BYTES'>,
): ResponseCache {
  return new ResponseCache({
    maxBytes: config.CLEAVE_CACHE_MAX_BYTES,
    maxEntryBytes: config.CLEAVE_CACHE_MAX_ENTRY_BYTES,
  });
}

/** The route's identity for invalidation: method and path pattern. */
export function routeKeyOf(route: Pick<RouteDefinition, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

/** Query parameters sorted by name (stable: repeated names keep their order), so `?b&a` and `?a&b` share an entry. */
function sortedQuery(search: string): string {
  if (!search.includes('&')) return search;
  return search
    .split('&')
    .sort((a, b) => {
      const nameA = a.split('=', 1)[0] as string;
      const nameB = b.split('=', 1)[0] as string;
      return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
    })
    .join('&');
}

function variantOf(vary: readonly string[], headers: IncomingHttpHeaders): string {
  if (vary.length === 0) return '';
  let variant = '';
  for (const name of vary) {
    const value = headers[name];
    variant += `\n${name}:${Array.isArray(value) ? value.join(',') : (value ?? '')}`;
  }
  return variant;
}

function storedHeaders(headers: ResponseHeaders): OutgoingHttpHeaders {
  const stored: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || UNSTORED_HEADERS.has(name) || name.startsWith('x-ratelimit-')) continue;
    stored[name] = value;
  }
  return stored;
}

function headersSize(headers: OutgoingHttpHeaders): number {
  let size = 0;
  for (const name in headers) size += name.length + String(headers[name]).length + 4;
  return size;
}

function addTo(index: Map<string, Set<string>>, name: string, key: string): void {
  let keys = index.get(name);
  if (keys === undefined) index.set(name, (keys = new Set()));
  keys.add(key);
}

function removeFrom(index: Map<string, Set<string>>, name: string, key: string): void {
  const keys = index.get(name);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(name);
}
