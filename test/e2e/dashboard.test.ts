// The live dashboard on the admin listener, as an operator opens it: the forum split as
// `npm start` runs it, the page in headless Chromium, its figures moving as load arrives; and
// `cleave dev`'s dashboard, whose stream names the monolith.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { findChromium, LAUNCH_ARGS } from '../helpers/chromium.ts';
import { type CleaveProcess, runToExit, startCleave } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

const chromiumFound = findChromium();
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? '/tmp/cleave-dashboard.png';

/** The dashboard URL the start line names. */
function dashboardOf(app: CleaveProcess): string {
  const url = app.logs.find((line) => typeof line.dashboard === 'string')?.dashboard;
  assert.match(String(url), /^http:\/\/127\.0\.0\.1:\d+\/dashboard$/, 'on the admin listener, this machine only');
  return String(url);
}

/** `count` GETs of `path`, `concurrency` at a time. */
async function load(url: string, count: number, concurrency = 8): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await (await fetch(url)).arrayBuffer();
    }),
  );
}

describe(
  'the live dashboard of the split forum, in a browser',
  { skip: chromiumFound.skip ?? false, timeout: 90_000 },
  () => {
    let forum: CleaveProcess;
    let browser: Browser | undefined;
    let page: Page;
    const pageErrors: string[] = [];

    before(async () => {
      // Limits off, as for any load test: the load below comes from one address.
      forum = await startCleave(['start', 'examples/forum'], { CLEAVE_AUTOSCALE: 'false', CLEAVE_RATE_LIMIT: 'off' });
      browser = await chromium.launch({
        executablePath: chromiumFound.path,
        headless: true,
        args: LAUNCH_ARGS,
        timeout: 15_000,
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(dashboardOf(forum), { waitUntil: 'load' });
    });

    after(async () => {
      await browser?.close();
      if (forum) assert.equal(await forum.stop(), 0);
    });

    it("loads, goes live, and shows the forum's pools and processes", async () => {
      await page.locator('#live', { hasText: /^live/ }).waitFor();
      assert.equal(await page.locator('#app').textContent(), 'forum');
      const pools = page.locator('#pools tbody tr');
      await until(async () => ((await pools.count()) >= 5 ? true : undefined), 10_000, 'the pools listed');
      const services = await page.locator('#pools tbody tr td:first-child').allTextContents();
      assert.deepEqual([...new Set(services)].sort(), ['auth', 'chat', 'posts', 'web']);
      const processes = await page.locator('#processes tbody tr td:first-child').allTextContents();
      for (const name of ['gateway', 'posts#1', 'posts#2', 'auth/tasks#1', 'supervisor']) {
        assert.ok(processes.includes(name), `${name} among ${processes.join(', ')}`);
      }
      assert.deepEqual(pageErrors, []);
    });

    it('moves under load: the request rate, the route with its percentiles, and the charts', async () => {
      const before = Number(await page.locator('#requestRate').textContent());
      assert.ok(before < 5, `quiet before the load: ${before}`);
      // Load for a few seconds of frames, over several routes: the gateway's cache answers some,
      // the replicas the rest; the dashboard draws them all as the clients saw them.
      const ends = Date.now() + 4000;
      let highest = 0;
      while (Date.now() < ends) {
        await Promise.all([
          load(`${forum.url}/api/posts/none`, 60, 4),
          load(`${forum.url}/api/posts`, 40, 2),
          load(`${forum.url}/api/stats`, 20, 2),
        ]);
        highest = Math.max(highest, Number(await page.locator('#requestRate').textContent()));
      }
      assert.ok(highest > 10, `the request rate rose to ${highest}/s`);
      const row = page.locator('#routes tbody tr', { hasText: '/api/posts/:id' });
      await row.waitFor();
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells[0], 'posts');
      assert.notEqual(cells[4], '–', `a p99 for the route: ${cells.join(' | ')}`);
      assert.ok((await page.locator('#rateChart canvas').count()) >= 1, 'the rate chart is drawn');
      assert.ok((await page.locator('#latencyChart canvas').count()) >= 1, 'the latency chart is drawn');
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.deepEqual(pageErrors, []);
    });

    it('is named by cleave dashboard', async () => {
      const { code, stdout } = await runToExit(['dashboard', '--port', String(forum.port)]);
      assert.equal(code, 0);
      assert.equal(stdout.trim(), dashboardOf(forum));
    });
  },
);

describe("cleave dev's dashboard", () => {
  let app: CleaveProcess;
  before(async () => {
    app = await startCleave(['dev', 'test/fixtures/traced']);
  });
  after(async () => {
    if (app) assert.equal(await app.stop(), 0);
  });

  it('serves the page and a stream of frames naming the monolith and its last 5xx, never on the public port', async () => {
    const url = dashboardOf(app);
    assert.equal((await fetch(`${app.url}/dashboard`)).status, 404, 'not on the public port');
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /uplot\.js/);
    assert.equal((await fetch(`${url}/uplot.js`)).status, 200);
    await load(`${app.url}/feed`, 50);
    const failed = await fetch(`${app.url}/boom`);
    assert.equal(failed.status, 500);
    const stream = await fetch(`${url}/events`);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const frame = await until(
      async () => {
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
        const last = text
          .split('\n\n')
          .filter((event) => event.startsWith('data: '))
          .at(-1);
        return last === undefined
          ? undefined
          : (JSON.parse(last.slice(6)) as {
              mode: string;
              app: string;
              processes: unknown[];
              errors: { status: number; path: string; requestId: string }[];
            });
      },
      5000,
      'a frame',
    );
    await reader.cancel();
    assert.equal(frame.mode, 'monolith');
    assert.equal(frame.app, 'traced');
    assert.equal(frame.processes.length, 1);
    assert.deepEqual(
      frame.errors.map((error) => [error.status, error.path, error.requestId]),
      [[500, '/boom', failed.headers.get('x-request-id')]],
    );
  });
});
