import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventSubject, resourceName, taskSubject, token } from './subjects.ts';

describe('NATS subjects', () => {
  it('keeps plain dotted topics readable, under the app', () => {
    assert.equal(eventSubject('forum', 'post.created'), 'cleave.forum.events.post.created');
    assert.equal(eventSubject('forum', 'cleave.cache.invalidate'), 'cleave.forum.events.cleave.cache.invalidate');
    assert.equal(eventSubject('forum', 'user:42'), 'cleave.forum.events.user:42');
  });

  // Empty tokens are invalid in NATS; `*` and `>` are wildcards; a space ends a subject.
  it('carries any other name as one token no plain name can take', () => {
    const odd = ['a..b', '.a', 'a.', '', 'a*', 'a>', 'a b', 'ü'];
    const subjects = odd.map((topic) => eventSubject('forum', topic));
    for (const subject of subjects) {
      assert.match(subject, /^cleave\.forum\.events\.~\.[A-Za-z0-9_~-]+$/, subject);
    }
    assert.equal(new Set(subjects).size, odd.length, 'no two names share a subject');
    assert.equal(token('my app'), `~${Buffer.from('my app').toString('base64url')}`);
    assert.equal(token('forum'), 'forum');
  });

  it('names tasks under the app, and its streams with what stream and bucket names allow', () => {
    assert.equal(taskSubject('forum', 'auth'), 'cleave.forum.tasks.auth');
    assert.equal(resourceName('forum', 'tasks'), 'cleave_forum_tasks');
    // `.`, `~`, `:` and spaces are not allowed in a bucket's name; two apps never share one.
    const odd = ['my app', 'my.app', 'a:b', 'ü'].map((app) => resourceName(app, 'jobs'));
    for (const name of odd) assert.match(name, /^cleave_[0-9a-f]{16}_jobs$/, name);
    assert.equal(new Set(odd).size, odd.length);
  });
});
