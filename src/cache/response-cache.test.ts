import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { RouteCacheOptions, RouteDefinition } from '../app/route.ts';
import { parseCacheControl } from './cache-control.ts';
import { freshnessOf } from './policy.ts';
import { ResponseCache, type CacheDecision, type CachedResponse, type ResponseTap } from './response-cache.ts';

function request(method: string, headers: IncomingHttpHeaders = {}): IncomingMessage {
  return { method, headers } as IncomingMessage;
}

function route(cache?: RouteCacheOptions, path = '/api/posts'): RouteDefinition {
  return { service: 'posts', method: 'GET', path, options: cache ? { cache } : {}, handler: () => undefined };
}

/** Plays one whole response through a fill. */
function respond(tap: ResponseTap, status: number, headers: Record<string, string>, body: string): void {
  tap.head(status, { ...headers });
  tap.data(body);
  tap.end();
}

function fillOf(decision: CacheDecision): ResponseTap {
  assert.equal(decision.kind, 'fill');
  return (decision as { fill: ResponseTap }).fill;
}

function hitOf(decision: CacheDecision): CachedResponse {
  assert.equal(decision.kind, 'hit');
  return (decision as { entry: CachedResponse }).entry;
}

describe('parseCacheControl', () => {
  it('reads the directives a shared cache obeys and ignores the rest', () => {
    assert.deepEqual(parseCacheControl('Public, MAX-AGE=60, s-maxage="30", stale-while-revalidate=5'), {
      maxAge: 60,
      sMaxAge: 30,
      noStore: false,
      noCache: false,
      private: false,
      public: true,
    });
    assert.equal(parseCacheControl('max-age=-1').maxAge, undefined);
    assert.equal(parseCacheControl('max-age=1e3').maxAge, undefined);
    assert.equal(parseCacheControl(['no-store', 'private']).private, true);
  });
});

describe('freshnessOf', () => {
  it('stores 2xx and 404 for the lifetime the response or route gives, minus its Age', () => {
    assert.equal(freshnessOf(200, { 'cache-control': 'max-age=60' }, undefined)?.ttlMs, 60_000);
    assert.equal(freshnessOf(200, { 'cache-control': 'max-age=60, s-maxage=5' }, undefined)?.ttlMs, 5_000);
    assert.equal(freshnessOf(200, { 'cache-control': 'max-age=60', age: '20' }, undefined)?.ttlMs, 40_000);
    assert.equal(freshnessOf(404, {}, { maxAge: 3 })?.ttlMs, 3_000);
    assert.equal(freshnessOf(200, {}, undefined), undefined);
  });

  it('never stores what must stay with one client or says not to', () => {
    const route = { maxAge: 60 };
    for (const [status, headers] of [
      [500, {}],
      [206, {}],
      [302, {}],
      [200, { 'set-cookie': 'sid=1' }],
      [200, { vary: '*' }],
      [200, { 'cache-control': 'private, max-age=60' }],
      [200, { 'cache-control': 'no-store' }],
      [200, { 'cache-control': 'no-cache' }],
    ] as const) {
      assert.equal(freshnessOf(status, headers, route), undefined, `${status} ${JSON.stringify(headers)}`);
    }
  });
});

describe('ResponseCache', () => {
  it('answers the second request from the first one’s response', () => {
    const cache = new ResponseCache();
    respond(fillOf(cache.consult(request('GET'), '/a', '', undefined)), 200, { 'cache-control': 'max-age=60' }, 'one');
    const entry = hitOf(cache.consult(request('GET'), '/a', '', undefined));
    assert.equal(entry.body.toString(), 'one');
    assert.equal(entry.headers['content-length'], 3);
    assert.equal(hitOf(cache.consult(request('HEAD'), '/a', '', undefined)).method, 'GET');
    assert.equal(cache.consult(request('POST'), '/a', '', undefined).kind, 'pass');
  });

  it('keys on the normalised query (parameter order aside) and on the headers named in Vary', () => {
    const cache = new ResponseCache();
    const fill = fillOf(cache.consult(request('GET', { 'accept-language': 'fr' }), '/a', 'b=2&a=1', undefined));
    respond(fill, 200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }, 'bonjour');
    assert.equal(
      hitOf(cache.consult(request('GET', { 'accept-language': 'fr' }), '/a', 'a=1&b=2', undefined)).body.toString(),
      'bonjour',
    );
    assert.equal(cache.consult(request('GET', { 'accept-language': 'en' }), '/a', 'a=1&b=2', undefined).kind, 'fill');
    assert.equal(cache.consult(request('GET', { 'accept-language': 'fr' }), '/a', 'a=2&b=2', undefined).kind, 'fill');
  });

  it('lets requests with credentials past, unless the route or response says it is the same for everyone', () => {
    const cache = new ResponseCache();
    const withCookie = request('GET', { cookie: 'sid=1' });
    assert.equal(cache.consult(withCookie, '/a', '', route({ maxAge: 60 })).kind, 'pass');
    assert.equal(cache.consult(request('GET', { authorization: 'Bearer x' }), '/a', '', undefined).kind, 'pass');
    respond(fillOf(cache.consult(withCookie, '/b', '', route({ maxAge: 60, public: true }))), 200, {}, 'b');
    assert.equal(hitOf(cache.consult(withCookie, '/b', '', route({ maxAge: 60, public: true }))).body.toString(), 'b');
    respond(
      fillOf(cache.consult(request('GET'), '/c', '', undefined)),
      200,
      { 'cache-control': 'public, max-age=9' },
      'c',
    );
    assert.equal(cache.consult(withCookie, '/c', '', undefined).kind, 'hit');
  });

  it('coalesces concurrent misses of a cacheable route into one fill', async () => {
    const cache = new ResponseCache();
    const posts = route({ maxAge: 60 });
    const fill = fillOf(cache.consult(request('GET'), '/api/posts', '', posts));
    const waiting = Array.from({ length: 100 }, () => cache.consult(request('GET'), '/api/posts', '', posts));
    assert.ok(waiting.every((decision) => decision.kind === 'wait'));
    respond(fill, 200, {}, 'list');
    const entries = await Promise.all(waiting.map((decision) => (decision as { entry: Promise<unknown> }).entry));
    assert.ok(entries.every((entry) => (entry as CachedResponse).body.toString() === 'list'));
    assert.equal(cache.stats().coalesced, 100);
  });

  it('sends waiters to the origin when the fill cannot be stored, and does not coalesce unknown routes', async () => {
    const cache = new ResponseCache();
    const posts = route({ maxAge: 60 });
    const fill = fillOf(cache.consult(request('GET'), '/api/posts', '', posts));
    const waiter = cache.consult(request('GET'), '/api/posts', '', posts);
    respond(fill, 500, {}, 'oops');
    assert.equal(await (waiter as { entry: Promise<unknown> }).entry, undefined);
    fillOf(cache.consult(request('GET'), '/other', '', undefined));
    assert.equal(cache.consult(request('GET'), '/other', '', undefined).kind, 'fill');
  });

  it('drops by path, by prefix, by route and after a successful unsafe request', () => {
    const cache = new ResponseCache();
    const put = (path: string, search = '') =>
      respond(fillOf(cache.consult(request('GET'), path, search, route({ maxAge: 60 }, path))), 200, {}, path);
    put('/api/posts');
    put('/api/posts', 'page=2');
    put('/api/posts/1');
    put('/api/users/1');
    assert.equal(cache.invalidate(['/api/posts']), 2);
    assert.equal(cache.invalidate(['/api/users/*']), 1);
    assert.equal(cache.invalidateRoute('GET /api/posts/1'), 1);
    assert.equal(cache.stats().entries, 0);
    put('/api/posts');
    put('/api/posts/7');
    cache.afterUnsafe('/api/posts', 400, {});
    assert.equal(cache.stats().entries, 2);
    cache.afterUnsafe('/api/posts', 201, { location: '/api/posts/7' });
    assert.equal(cache.stats().entries, 0);
  });

  it('stores nothing from a fill that an invalidation overtook', () => {
    const cache = new ResponseCache();
    const fill = fillOf(cache.consult(request('GET'), '/a', '', route({ maxAge: 60 })));
    cache.invalidate(['/a']);
    respond(fill, 200, {}, 'stale');
    assert.equal(cache.consult(request('GET'), '/a', '', route({ maxAge: 60 })).kind, 'fill');
  });

  it('is not spoiled by an invalidation of another path', () => {
    const cache = new ResponseCache();
    const fill = fillOf(cache.consult(request('GET'), '/a', '', route({ maxAge: 60 })));
    cache.afterUnsafe('/login', 200, {});
    cache.invalidate(['/b/*']);
    respond(fill, 200, {}, 'fresh');
    assert.equal(cache.consult(request('GET'), '/a', '', route({ maxAge: 60 })).kind, 'hit');
  });

  it('never stores a personal answer made for a request with credentials, nor gives it to a waiter', async () => {
    const cache = new ResponseCache();
    const page = route({ maxAge: 60, public: true }, '/page');
    // Known shared from an earlier anonymous answer...
    respond(
      fillOf(cache.consult(request('GET'), '/page', '', page)),
      200,
      { 'cache-control': 'public, max-age=1' },
      'all',
    );
    cache.invalidate(['/page']);
    // ...then a signed-in user's request fills it with an answer that no longer says public.
    const signedIn = request('GET', { cookie: 'sid=1' });
    const personal = route({ maxAge: 60 }, '/page');
    const fill = fillOf(cache.consult(signedIn, '/page', '', personal));
    const waiter = cache.consult(request('GET', { cookie: 'sid=2' }), '/page', '', personal);
    respond(fill, 200, { 'cache-control': 'max-age=60' }, "ada's page");
    assert.equal(waiter.kind, 'wait');
    assert.equal(await (waiter as { entry: Promise<unknown> }).entry, undefined);
    assert.notEqual(cache.consult(request('GET'), '/page', '', personal).kind, 'hit');
  });

  it('stays within its byte bound, least recently used out first, and skips oversized bodies', () => {
    const cache = new ResponseCache({ maxBytes: 4096, maxEntryBytes: 2048 });
    const body = 'x'.repeat(1000);
    for (const path of ['/1', '/2', '/3', '/4', '/5']) {
      respond(fillOf(cache.consult(request('GET'), path, '', route({ maxAge: 60 }, path))), 200, {}, body);
    }
    assert.ok(cache.stats().bytes <= 4096);
    assert.equal(cache.consult(request('GET'), '/1', '', route({ maxAge: 60 }, '/1')).kind, 'fill');
    assert.equal(cache.consult(request('GET'), '/5', '', route({ maxAge: 60 }, '/5')).kind, 'hit');
    respond(
      fillOf(cache.consult(request('GET'), '/big', '', undefined)),
      200,
      { 'cache-control': 'max-age=9' },
      'y'.repeat(3000),
    );
    assert.equal(cache.consult(request('GET'), '/big', '', undefined).kind, 'fill');
  });

  it('forgets an entry when its lifetime is over', async () => {
    const cache = new ResponseCache();
    respond(fillOf(cache.consult(request('GET'), '/a', '', undefined)), 200, { 'cache-control': 'max-age=1' }, 'a');
    assert.equal(cache.consult(request('GET'), '/a', '', undefined).kind, 'hit');
    // Past max-age=1 on the real clock (the cache's LRU reads it): the time passing is what is tested.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(cache.consult(request('GET'), '/a', '', undefined).kind, 'fill');
  });
});
