// The example forum in a real browser: a person can sign up, log in, post and
// chat. `cleave dev examples/forum` runs as a child process; the system's
// Chromium (driven by playwright-core) plays two people in two contexts.
// Without a Chromium on the machine the suite is skipped, with the reason.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { findChromium, LAUNCH_ARGS } from '../helpers/chromium.ts';
import { type CleaveProcess, startCleave } from '../helpers/spawn-cleave.ts';

const STEP_MS = 5_000; // each wait for the page
const SCREENSHOT = '/tmp/forum-browser.png';

const chromiumFound = findChromium();

describe(
  'forum in a browser, split as npm start runs it',
  { skip: chromiumFound.skip ?? false, timeout: 60_000 },
  () => {
    let forum: CleaveProcess | undefined;
    let browser: Browser | undefined;
    let a: Page; // person A: signs up, posts, chats
    let b: Page; // person B: stays a guest, watches
    const pageErrors: string[] = [];

    // Unique per run, so a re-used store never makes the sign-up a 409.
    const name = `ada_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    const postText = `Hello from a real browser ${Date.now()}`;

    async function openPerson(label: string): Promise<Page> {
      assert.ok(browser && forum);
      const context: BrowserContext = await browser.newContext();
      context.setDefaultTimeout(STEP_MS);
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`${label}: ${error.message}`));
      await page.goto(`${forum.url}/`, { waitUntil: 'load' });
      return page;
    }

    const chatOpen = (page: Page) => page.locator('[data-testid="chat-status"][data-state="open"]').waitFor();

    /** Waits for the chat line with `text` on `page` and returns who it is from. */
    async function chatLineFrom(page: Page, text: string): Promise<string> {
      const line = page.getByTestId('chat-log').getByTestId('chat-message').filter({ hasText: text });
      await line.waitFor();
      assert.equal(await line.count(), 1, `"${text}" shown once`);
      return (await line.locator('.chat-from').textContent()) ?? '';
    }

    async function sendChat(page: Page, text: string) {
      await page.getByTestId('chat-input').fill(text);
      await page.getByTestId('chat-send').click();
    }

    before(async () => {
      forum = await startCleave(['start', 'examples/forum'], { FORUM_STATS_SCHEDULE: '* * * * * *' });
      browser = await chromium.launch({
        executablePath: chromiumFound.path,
        headless: true,
        args: LAUNCH_ARGS,
        timeout: 15_000,
      });
      a = await openPerson('A');
      b = await openPerson('B');
    });

    after(async () => {
      await browser?.close();
      if (forum) assert.equal(await forum.stop(), 0, `forum exit code (stderr: ${forum.stderr()})`);
    });

    it('shows a guest the sign-up and log-in forms, no composer, and a connected chat', async () => {
      for (const page of [a, b]) {
        await page.getByTestId('signup-form').waitFor();
        await page.getByTestId('login-form').waitFor();
        assert.equal(await page.getByTestId('composer').isVisible(), false);
        assert.equal(await page.getByTestId('logout-button').isVisible(), false);
        await chatOpen(page);
      }
    });

    it('A signs up, which logs A in', async () => {
      await a.getByTestId('signup-username').fill(name);
      await a.getByTestId('signup-password').fill(password);
      await a.getByTestId('signup-submit').click();
      await a.getByTestId('current-user').filter({ hasText: name }).waitFor();
      assert.equal(await a.getByTestId('current-user').textContent(), name);
      await a.getByTestId('composer').waitFor();
      await a.getByTestId('signup-form').waitFor({ state: 'hidden' });
      assert.equal(await a.getByTestId('signup-error').isVisible(), false);
      // The chat reconnects with the new session cookie.
      await chatOpen(a);
    });

    it('A posts; it is at the top of A’s list and appears live for B, who stays a guest', async () => {
      await a.getByTestId('composer-input').fill(postText);
      await a.getByTestId('composer-submit').click();
      for (const page of [a, b]) {
        const top = page.getByTestId('post-list').getByTestId('post').first();
        await top.getByTestId('post-text').filter({ hasText: postText }).waitFor();
        assert.equal(await top.getByTestId('post-text').textContent(), postText);
        assert.equal(await top.getByTestId('post-author').textContent(), name);
        assert.ok(await top.getAttribute('data-post-id'), 'post has an id');
        assert.equal(await page.getByTestId('post').filter({ hasText: postText }).count(), 1, 'post shown once');
      }
      assert.equal(await a.getByTestId('composer-input').inputValue(), '', 'composer cleared after posting');
      assert.equal(await a.getByTestId('composer-error').isVisible(), false);
      // B never reloaded and is still a guest.
      assert.equal(await b.getByTestId('composer').isVisible(), false);
      assert.equal(await b.getByTestId('current-user').isVisible(), false);
      await b.getByTestId('login-form').waitFor();
    });

    it('A chats and B sees it under A’s name; B chats and A sees it from "guest"', async () => {
      const fromA = `hi everyone, ${name} here`;
      await sendChat(a, fromA);
      assert.equal(await chatLineFrom(b, fromA), name);
      assert.equal(await chatLineFrom(a, fromA), name);
      assert.equal(await a.getByTestId('chat-input').inputValue(), '', 'chat input cleared after sending');

      const fromB = 'hello from a guest';
      await sendChat(b, fromB);
      assert.equal(await chatLineFrom(a, fromB), 'guest');
      assert.equal(await chatLineFrom(b, fromB), 'guest');
    });

    it('A logs out: composer hidden, log-in form back', async () => {
      await a.getByTestId('logout-button').click();
      await a.getByTestId('login-form').waitFor();
      await a.getByTestId('composer').waitFor({ state: 'hidden' });
      await a.getByTestId('current-user').waitFor({ state: 'hidden' });
      assert.equal(await a.getByTestId('current-user').textContent(), '');
      await chatOpen(a);
    });

    it('a wrong password shows a log-in error and keeps A logged out', async () => {
      await a.getByTestId('login-username').fill(name);
      await a.getByTestId('login-password').fill('not the password');
      await a.getByTestId('login-submit').click();
      const error = a.getByTestId('login-error');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', /wrong username or password/i);
      assert.equal(await a.getByTestId('composer').isVisible(), false);
    });

    it('A logs in again with the same credentials', async () => {
      await a.getByTestId('login-username').fill(name);
      await a.getByTestId('login-password').fill(password);
      await a.getByTestId('login-submit').click();
      await a.getByTestId('current-user').filter({ hasText: name }).waitFor();
      await a.getByTestId('composer').waitFor();
      await a.getByTestId('login-form').waitFor({ state: 'hidden' });
      assert.equal(await a.getByTestId('login-error').isVisible(), false);
      // The post A wrote earlier is still at the top.
      const top = a.getByTestId('post-list').getByTestId('post').first();
      assert.equal(await top.getByTestId('post-text').textContent(), postText);
      await chatOpen(a);
      await a.screenshot({ path: SCREENSHOT, fullPage: true });
    });

    it('had no JavaScript errors on either page', () => {
      assert.deepEqual(pageErrors, []);
    });
  },
);
