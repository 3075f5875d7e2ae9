// The example forum, run as a user would — `cleave dev examples/forum` (one
// process) and `cleave start examples/forum` (split: gateway + a process per
// service) — and exercised through its HTTP API and its chat socket. Not one
// line of the forum differs between the two.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestFrom } from '../helpers/request-from.ts';
import { childPids, type CleaveProcess, isRunning, startCleave, titleOf } from '../helpers/spawn-cleave.ts';
import { openSocket } from '../helpers/ws-client.ts';
import { promtoolComplaints, seriesOf, sumOf, whyNoPromtool } from '../helpers/prometheus.ts';
import { sleep, until } from '../helpers/wait.ts';

for (const mode of ['dev', 'start'] as const) {
  // Hooks inside: each mode's app starts when its tests run, not both at once.
  describe(`forum (cleave ${mode})`, () => {
    let forum: CleaveProcess;
    before(async () => {
      // Pools at their min: the process list below is what `npm start` starts, whatever load
      // another test puts on the machine meanwhile (growing under load is autoscale.test's).
      forum = await startCleave([mode, 'examples/forum'], {
        FORUM_STATS_SCHEDULE: '* * * * * *',
        CLEAVE_AUTOSCALE: 'false',
      });
    });
    after(async () => {
      if (!forum) return; // never started: before() failed, and said why
      const children = childPids(forum.child.pid ?? 0);
      // tsx may add an esbuild helper of its own; the cleave processes are these.
      const roles = children.map(titleOf).filter((title) => title.startsWith('cleave '));
      // Stopped before anything is asserted: a failed assertion must not leave the app running.
      assert.equal(await forum.stop(), 0);
      if (mode === 'start') {
        assert.deepEqual(roles.sort(), [
          'cleave auth#1',
          'cleave auth/tasks#1',
          'cleave chat#1',
          'cleave chat#2',
          'cleave gateway',
          'cleave posts#1',
          'cleave posts#2',
          'cleave web#1',
        ]);
      }
      // SIGTERM leaves no process behind.
      const deadline = Date.now() + 5000;
      while (children.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(children.filter(isRunning), []);
    });

    const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
      fetch(`${forum.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { 'content-type': 'application/json', ...init.headers },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });

    const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

    let cookie = '';
    let token = '';

    it('serves the page', async () => {
      const page = await fetch(`${forum.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /cleave forum/i);
      const script = await fetch(`${forum.url}/app.js`);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
    });

    it('signs up: 201, then 409 for the same name in any case, 400 when invalid', async () => {
      const created = await api('/api/signup', {
        method: 'POST',
        body: { username: 'ada', password: 'correct horse' },
      });
      assert.equal(created.status, 201);
      const account = (await created.json()) as { id: string; username: string };
      assert.equal(account.username, 'ada');
      assert.match(account.id, /^[0-9a-f-]{36}$/);
      const taken = await api('/api/signup', { method: 'POST', body: { username: 'ADA', password: 'another pass' } });
      assert.equal(taken.status, 409);
      const invalid = await api('/api/signup', { method: 'POST', body: { username: 'a', password: 'short' } });
      assert.equal(invalid.status, 400);
      assert.equal(await errorCode(invalid), 'CLEAVE_VALIDATION_FAILED');
    });

    it('logs in: token and HttpOnly cookie; 401 on a wrong password or an unknown user', async () => {
      const wrong = await api('/api/login', { method: 'POST', body: { username: 'ada', password: 'wrong password' } });
      assert.equal(wrong.status, 401);
      const unknown = await api('/api/login', {
        method: 'POST',
        body: { username: 'nobody', password: 'whatever123' },
      });
      assert.equal(unknown.status, 401);
      const ok = await api('/api/login', { method: 'POST', body: { username: 'ada', password: 'correct horse' } });
      assert.equal(ok.status, 200);
      const setCookie = ok.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /HttpOnly/i);
      cookie = setCookie.split(';')[0] ?? '';
      ({ token } = (await ok.json()) as { token: string });
      assert.ok(token.split('.').length === 3);
    });

    it('answers 401 to a wrong password of any length, and its brute-force guard counts it (issue 12)', async () => {
      // From an address of its own: the guard counts per address, and the tests above used 127.0.0.1.
      const login = (body: unknown) => requestFrom(`${forum.url}/api/login`, '127.0.0.11', { method: 'POST', body });
      // Sane bounds still hold, and a request refused for them is not a guess.
      assert.equal((await login({ username: 'ada', password: '' })).status, 400);
      assert.equal((await login({ username: 'ada', password: 'x'.repeat(100_000) })).status, 400);
      assert.equal((await login({ username: 'ada\u0007', password: 'nope' })).status, 400, 'a name no store holds');
      // Shorter than the sign-up policy's 8: the password is wrong, not the request.
      const short = await login({ username: 'u', password: 'nope' });
      assert.equal(short.status, 401);
      assert.equal(short.json().error?.details?.reason, 'BAD_CREDENTIALS');
      const statuses = [short.status];
      for (const password of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef']) {
        statuses.push((await login({ username: 'ada', password })).status);
      }
      // As with long wrong passwords (rate-limit.test.ts): five free retries, then a block.
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429]);
    });

    it('GET /api/me knows the user by cookie or token, else 401', async () => {
      assert.equal((await api('/api/me')).status, 401);
      const byCookie = await api('/api/me', { headers: { cookie } });
      assert.equal(((await byCookie.json()) as { username: string }).username, 'ada');
      const byToken = await api('/api/me', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(((await byToken.json()) as { username: string }).username, 'ada');
    });

    it('creates posts (auth required), lists them newest first, reads one, 404 when absent', async () => {
      assert.equal((await api('/api/posts', { method: 'POST', body: { text: 'anonymous?' } })).status, 401);
      const first = await api('/api/posts', { method: 'POST', body: { text: 'first post' }, headers: { cookie } });
      assert.equal(first.status, 201);
      const second = await api('/api/posts', {
        method: 'POST',
        body: { text: 'second post' },
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(second.status, 201);
      const post = (await second.json()) as { id: string; author: { username: string } };
      assert.equal(post.author.username, 'ada');
      const { posts } = (await (await api('/api/posts')).json()) as { posts: Array<{ text: string }> };
      assert.deepEqual(posts.map((p) => p.text).slice(0, 2), ['second post', 'first post']);
      const one = await api(`/api/posts/${post.id}`);
      assert.equal(((await one.json()) as { text: string }).text, 'second post');
      const missing = await api('/api/posts/nope');
      assert.equal(missing.status, 404);
      assert.equal((await api('/api/posts', { method: 'POST', body: { text: '' }, headers: { cookie } })).status, 400);
    });

    it('keeps the front page at the edge for everyone, and shows a new post at once', async () => {
      const list = async (headers: Record<string, string> = {}) => {
        const response = await api('/api/posts', { headers });
        const { posts } = (await response.json()) as { posts: Array<{ text: string }> };
        return { cache: response.headers.get('x-cache'), texts: posts.map((p) => p.text) };
      };
      await list();
      const signedIn = await list({ cookie });
      assert.equal(signedIn.cache, 'HIT', 'public: a signed-in browser gets the cached page too');
      const created = await api('/api/posts', { method: 'POST', body: { text: 'fresh' }, headers: { cookie } });
      assert.equal(created.status, 201);
      const after = await list({ cookie });
      assert.equal(after.cache, 'MISS');
      assert.equal(after.texts[0], 'fresh');
    });

    it('broadcasts chat to every client and pushes new posts to them', async () => {
      const wsUrl = `${forum.url.replace('http', 'ws')}/ws/chat`;
      const alice = await openSocket(wsUrl, { cookie });
      const guest = await openSocket(wsUrl);
      alice.ws.send(JSON.stringify({ type: 'chat', text: 'hello all' }));
      for (const client of [alice, guest]) {
        const message = (await client.next()) as { type: string; from: string; text: string; at: string };
        assert.equal(message.type, 'chat');
        assert.equal(message.from, 'ada');
        assert.equal(message.text, 'hello all');
      }
      guest.ws.send(JSON.stringify({ type: 'chat', text: 'hi from a guest' }));
      assert.equal(((await alice.next()) as { from: string }).from, 'guest');
      await guest.next();
      const created = await api('/api/posts', { method: 'POST', body: { text: 'live!' }, headers: { cookie } });
      const post = await created.json();
      for (const client of [alice, guest]) assert.deepEqual(await client.next(), { type: 'post', post });
      guest.ws.send('not json');
      assert.equal(((await guest.next()) as { type: string }).type, 'error');
      alice.close();
      guest.close();
    });

    it('keeps /api/stats fresh from a cron job', async () => {
      const deadline = Date.now() + 5000;
      let stats = { posts: 0, users: 0, updatedAt: null as string | null };
      while (Date.now() < deadline) {
        stats = (await (await api('/api/stats')).json()) as typeof stats;
        if (stats.posts >= 4 && stats.users >= 1) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(stats.posts, 4, 'first, second, fresh and live!');
      assert.equal(stats.users, 1);
      assert.ok(stats.updatedAt && Date.now() - Date.parse(stats.updatedAt) < 5000);
    });

    /** The admin listener's exposition: the URL is in the start line's `metrics`. */
    const scrape = async (): Promise<string> => {
      const url = forum.logs.find((line) => typeof line.metrics === 'string')?.metrics;
      assert.match(String(url), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'on this machine only, by default');
      const response = await fetch(String(url));
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    const statsServed = (text: string) =>
      sumOf(text, 'cleave_http_requests_total', {
        service: 'posts',
        route: '/api/stats',
        method: 'GET',
        status: '200',
      });

    it('counts requests by route on the admin listener, never on the public port', async () => {
      assert.equal((await api('/metrics')).status, 404, 'no metrics on the public port');
      const atGateway = (text: string) =>
        sumOf(text, 'cleave_gateway_requests_total', { route: '/api/stats', status: '200' });
      const first = await scrape();
      const before = { served: statsServed(first), atGateway: atGateway(first) };
      for (let i = 0; i < 5; i++) assert.equal((await api('/api/stats')).status, 200);
      // Split, each process reports to the supervisor every second (so `before` may lag too).
      const text = await until(
        async () => {
          const now = await scrape();
          const counted = statsServed(now) >= before.served + 5;
          return counted && (mode === 'dev' || atGateway(now) >= before.atGateway + 5) ? now : undefined;
        },
        5000,
        'five more GET /api/stats in the metrics',
        200,
      );
      assert.ok(
        sumOf(text, 'cleave_http_request_duration_seconds_count', { route: '/api/stats' }) >= before.served + 5,
      );
      assert.ok(sumOf(text, 'process_cpu_user_seconds_total') > 0, "the processes' own metrics");
      // What the tests above did: posts asked auth for authors, a sign-up was heard by posts.
      assert.ok(sumOf(text, 'cleave_calls_total', { action: 'auth.profile', outcome: 'ok' }) >= 4, 'calls');
      assert.ok(sumOf(text, 'cleave_events_published_total', { service: 'auth', topic: 'user.created' }) >= 1);
      assert.ok(
        sumOf(text, 'cleave_events_handled_total', { service: 'posts', topic: 'user.created', outcome: 'ok' }) >= 1,
      );
      assert.ok(sumOf(text, 'cleave_store_operation_duration_seconds_count', { operation: 'put', outcome: 'ok' }) >= 4);
      // The front page was answered from the edge's cache (the gateway's, or cleave dev's own).
      assert.ok(sumOf(text, 'cleave_cache_lookups_total', { result: 'hit' }) >= 1, 'cache hits');
      assert.ok(sumOf(text, 'cleave_cache_entries') >= 1);
      if (mode === 'start') {
        const replicas = seriesOf(text, 'cleave_http_requests_total')
          .filter((labels) => labels.route === '/api/stats')
          .map((labels) => labels.replica);
        assert.ok(
          replicas.every((replica) => /^posts#\d$/.test(String(replica))),
          replicas.join(),
        );
        assert.equal(sumOf(text, 'cleave_pool_replicas', { service: 'posts', kind: 'requests', state: 'ready' }), 2);
        assert.ok(sumOf(text, 'process_resident_memory_bytes', { replica: 'gateway' }) > 0);
      }
    });

    it('serves metrics that Prometheus’s own checker accepts', { skip: whyNoPromtool() }, async () => {
      assert.equal(promtoolComplaints(await scrape()), '');
    });

    if (mode === 'start') {
      it("keeps a replica's counts when it is replaced", async () => {
        // Once every process has reported its last request: two reports a second apart agree.
        let before = statsServed(await scrape());
        for (let again = -1; again !== before;) {
          await sleep(1100);
          [again, before] = [before, statsServed(await scrape())];
        }
        assert.ok(before > 0);
        const victim = childPids(forum.child.pid!).find((pid) => titleOf(pid) === 'cleave posts#1');
        assert.ok(victim, 'posts#1');
        // SIGTERM: it drains, reports once more, exits, and its supervisor starts another.
        process.kill(victim, 'SIGTERM');
        await until(
          () =>
            childPids(forum.child.pid!).some((pid) => pid !== victim && titleOf(pid) === 'cleave posts#1')
              ? true
              : undefined,
          10_000,
          'posts#1 started again',
          100,
        );
        const text = await scrape();
        assert.equal(statsServed(text), before, 'the total holds');
        assert.ok(
          seriesOf(text, 'cleave_http_requests_total').some(
            (labels) => labels.replica === 'posts#1' && labels.pid === String(victim),
          ),
          'the counts of the one that left, under its own pid',
        );
      });
    }
  });
}
