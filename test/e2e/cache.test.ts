// The response cache, in both modes: what is stored and what never is, coalescing of
// concurrent misses, Age and X-Cache, Vary, and each way an entry is dropped (an unsafe
// request to its path, ctx.invalidate, a route's invalidatedBy event).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CleaveProcess, startCleave, statusOf, stopLeavingNothing } from '../helpers/spawn-cleave.ts';
import { sleep, until } from '../helpers/wait.ts';

interface Answer {
  status: number;
  cache: string | null;
  age: string | null;
  headers: Headers;
  body: { run?: string; count?: number; lang?: string | null; error?: { details?: { reason: string } } };
}

for (const mode of ['dev', 'start'] as const) {
  describe(`response cache (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> => {
      const response = await fetch(`${app.url}${path}`, { method, headers });
      const text = await response.text();
      return {
        status: response.status,
        cache: response.headers.get('x-cache'),
        age: response.headers.get('age'),
        headers: response.headers,
        body: text === '' ? {} : (JSON.parse(text) as Answer['body']),
      };
    };
    const post = (path: string) => fetch(`${app.url}${path}`, { method: 'POST' }).then((response) => response.status);
    const runs = async () => ((await get('/runs')).body as { runs: number }).runs;

    before(async () => {
      app = await startCleave([mode, 'test/fixtures/cached']);
    });
    after(() => stopLeavingNothing(app));

    it('answers a route declared cacheable from the cache, with Age and X-Cache', async () => {
      const first = await get('/declared');
      assert.equal(first.status, 200);
      assert.equal(first.cache, 'MISS');
      // Age counts whole seconds: the time passing is what is tested.
      await sleep(1100);
      const second = await get('/declared');
      assert.equal(second.cache, 'HIT');
      assert.equal(second.body.run, first.body.run);
      assert.ok(Number(second.age) >= 1, `Age ${second.age}`);
      assert.notEqual(second.headers.get('x-request-id'), first.headers.get('x-request-id'));
      // Clients are told nothing: only the edge keeps a copy that invalidation can reach.
      assert.equal(second.headers.get('cache-control'), null);
      const head = await get('/declared', {}, 'HEAD');
      assert.equal(head.cache, 'HIT');
      assert.equal(head.headers.get('content-length'), first.headers.get('content-length'));
    });

    it('sends 1000 concurrent identical GETs to the handler once', async () => {
      const before = await runs();
      const answers = await Promise.all(Array.from({ length: 1000 }, () => get('/slow')));
      assert.equal(await runs(), before + 1);
      assert.ok(answers.every((answer) => answer.status === 200 && answer.body.run === answers[0]?.body.run));
      assert.equal(answers.filter((answer) => answer.cache === 'MISS').length, 1);
      assert.equal(answers.filter((answer) => answer.cache === 'HIT').length, 999);
    });

    it('caches what the handler marks with Cache-Control max-age, for as long as it says', async () => {
      const first = await get('/header');
      assert.equal((await get('/header')).body.run, first.body.run);
      assert.equal(first.headers.get('cache-control'), 'public, max-age=60');
      const short = await get('/short');
      assert.equal((await get('/short')).cache, 'HIT');
      // Past its max-age of 1 s: the time passing is what is tested.
      await sleep(1100);
      const later = await get('/short');
      assert.equal(later.cache, 'MISS');
      assert.notEqual(later.body.run, short.body.run);
    });

    it('never stores private, no-store, Set-Cookie or error answers, but keeps a 404', async () => {
      for (const path of ['/private', '/no-store', '/cookie', '/fails']) {
        const first = await get(path);
        const second = await get(path);
        assert.notEqual(second.body.run, first.body.run, path);
        assert.equal(second.cache, 'MISS', path);
      }
      const before = await runs();
      const missing = await get('/missing');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error?.details?.reason, 'PAGE_NOT_FOUND');
      const again = await get('/missing');
      assert.equal(again.status, 404);
      assert.equal(again.cache, 'HIT');
      assert.equal(await runs(), before + 1);
    });

    it('lets requests with a cookie or Authorization reach the handler unless the route is public', async () => {
      const anonymous = await get('/personal');
      assert.equal((await get('/personal')).body.run, anonymous.body.run);
      const withCookie = await get('/personal', { cookie: 'cleave_session=someone' });
      assert.notEqual(withCookie.body.run, anonymous.body.run);
      const withToken = await get('/personal', { authorization: 'Bearer someone' });
      assert.notEqual(withToken.body.run, anonymous.body.run);
      const open = await get('/public');
      assert.equal((await get('/public', { cookie: 'cleave_session=someone' })).body.run, open.body.run);
    });

    it('gives a cached answer of an auth route to members only', async () => {
      const login = await fetch(`${app.url}/login`, { method: 'POST' });
      const { token } = (await login.json()) as { token: string };
      const member = { authorization: `Bearer ${token}` };
      const first = await get('/members', member);
      assert.equal(first.status, 200);
      assert.equal((await get('/members', member)).cache, 'HIT');
      const stranger = await get('/members');
      assert.equal(stranger.status, 401);
      assert.notEqual(stranger.cache, 'HIT');
      assert.equal((await get('/members', { authorization: 'Bearer forged' })).status, 401);
    });

    it('keeps one answer per value of the headers named in Vary', async () => {
      const french = await get('/lang', { 'accept-language': 'fr' });
      const english = await get('/lang', { 'accept-language': 'en' });
      assert.equal(french.body.lang, 'fr');
      assert.equal(english.body.lang, 'en');
      const frenchAgain = await get('/lang', { 'accept-language': 'fr' });
      assert.equal(frenchAgain.cache, 'HIT');
      assert.equal(frenchAgain.body.run, french.body.run);
      assert.equal((await get('/lang', { 'accept-language': 'en' })).body.run, english.body.run);
    });

    it('drops an answer when an unsafe request to its path succeeds, before that request is answered', async () => {
      const first = await get('/board');
      assert.equal((await get('/board')).cache, 'HIT');
      assert.equal(await post('/board'), 201);
      const after = await get('/board');
      assert.equal(after.cache, 'MISS');
      assert.notEqual(after.body.run, first.body.run);
    });

    it('drops answers under a prefix by ctx.invalidate, before the invalidating request is answered', async () => {
      const one = await get('/docs/one');
      const two = await get('/docs/two?lang=fr');
      assert.equal((await get('/docs/one')).cache, 'HIT');
      assert.equal(await post('/docs-changed'), 204);
      assert.notEqual((await get('/docs/one')).body.run, one.body.run);
      assert.notEqual((await get('/docs/two?lang=fr')).body.run, two.body.run);
    });

    if (mode === 'start') {
      it('shows the gateway cache’s counters in cleave status', async () => {
        await get('/declared');
        await get('/declared');
        const { cache } = await until(
          async () => {
            const status = await statusOf(app.port);
            return (status.cache?.hits ?? 0) > 0 ? status : undefined;
          },
          3000,
          'the gateway reported its cache',
        );
        assert.ok(cache && cache.entries > 0 && cache.bytes > 0 && cache.misses > 0, JSON.stringify(cache));
      });
    }

    it("drops a route's answers when one of its invalidatedBy events is published", async () => {
      const first = await get('/news');
      assert.equal((await get('/news')).cache, 'HIT');
      assert.equal(await post('/publish'), 204);
      // An event, not part of the response: it arrives a moment later.
      await until(
        async () => ((await get('/news')).body.run !== first.body.run ? true : undefined),
        3000,
        'the event dropped the cached answer',
      );
    });
  });
}

describe('response cache switched off', { timeout: 30_000 }, () => {
  let app: CleaveProcess;
  before(async () => {
    app = await startCleave(['start', 'test/fixtures/cached'], { CLEAVE_CACHE: 'off' });
  });
  after(() => stopLeavingNothing(app));

  it('sends every request to the handler', async () => {
    const first = await fetch(`${app.url}/declared`);
    const second = await fetch(`${app.url}/declared`);
    assert.equal(first.headers.get('x-cache'), null);
    assert.notEqual(((await first.json()) as { run: string }).run, ((await second.json()) as { run: string }).run);
  });
});
