import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeTarget } from './path.ts';

describe('normalizeTarget', () => {
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['/api/posts', '/api/posts'],
    ['/api//posts', '/api/posts'],
    ['/api/./posts', '/api/posts'],
    ['/api/x/../posts', '/api/posts'],
    ['/api/%2e%2e/api/posts', '/api/posts'],
    ['/api/%2E%2e/posts', '/posts'],
    ['/%61pi/posts', '/api/posts'],
    ['/api/posts/a%2fb', '/api/posts/a%2Fb'],
    ['/static/', '/static/'],
    ['/static/x/..', '/static/'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(normalizeTarget(input).path, expected));
  }

  it('keeps the query apart', () => {
    assert.deepEqual(normalizeTarget('/a/../b?x=1&y=/..'), { path: '/b', search: 'x=1&y=/..' });
  });

  const rejected = [
    'http://evil.example/x',
    '*',
    'evil.example:443',
    '/../etc/passwd',
    '/%2e%2e/etc/passwd',
    '/a\\b',
    '/a%5cb',
    '/a%00b',
    '/a%zz',
    '/a b',
    '/a\x01b',
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input)} with CLEAVE_BAD_REQUEST`, () => {
      assert.throws(() => normalizeTarget(input), { code: 'CLEAVE_BAD_REQUEST' });
    });
  }
});
