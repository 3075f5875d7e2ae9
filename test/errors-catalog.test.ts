// docs/errors.md and src/errors.ts must list the same codes with the same
// status, source and retry flag: the doc is what users branch on.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as errors from '../src/errors.ts';

type AnyErrorClass = new (...args: never[]) => errors.CleaveError;

function sample(ErrorClass: AnyErrorClass): errors.CleaveError {
  const make = ErrorClass as unknown as new (...args: unknown[]) => errors.CleaveError;
  if (ErrorClass === errors.ValidationError) return new make('body', []);
  if (ErrorClass === errors.MethodNotAllowedError) return new make(['GET']);
  if (ErrorClass === errors.BodyTooLargeError) return new make(1);
  if (ErrorClass === errors.HttpError) return new make(418, 'X', 'x');
  if (ErrorClass === errors.StoreConflictError) return new make('c', 'k', 1, 2);
  if (ErrorClass === errors.TaskFailedError) return new make('t', 'm');
  if (ErrorClass === errors.ConfigError) return new make('V', 'p');
  return new make('message');
}

describe('error catalog', () => {
  const classes = (Object.values(errors) as unknown[]).filter(
    (value): value is AnyErrorClass =>
      typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof errors.CleaveError,
  );
  const documented = new Map<string, string[]>();
  for (const line of readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const code = /^`(CLEAVE_[A-Z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (code) documented.set(code, cells.slice(2, 5));
  }

  it('documents every code once and nothing more', () => {
    const codes = classes.map((ErrorClass) => sample(ErrorClass).code);
    assert.equal(new Set(codes).size, codes.length, 'no code is used by two classes');
    assert.deepEqual([...documented.keys()].sort(), [...codes].sort());
  });

  for (const ErrorClass of classes) {
    const error = sample(ErrorClass);
    it(`${error.code} matches its row`, () => {
      const [status, source, retryable] = documented.get(error.code) ?? [];
      if (error.code !== 'CLEAVE_HTTP_ERROR') assert.equal(status, String(error.status));
      assert.equal(source, error.source);
      assert.equal(retryable, error.retryable ? 'yes' : 'no');
      assert.doesNotMatch(JSON.stringify(error.toJSON()), /stack|at /);
    });
  }
});
