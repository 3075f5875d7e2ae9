import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineConfig, loadConfig } from './config.ts';
import { env } from './env.ts';

describe('config', () => {
  const spec = {
    PORT: env.port({ default: 3000 }),
    WORKERS: env.int({ min: 1, max: 8, default: 2 }),
    DEBUG: env.bool({ default: false }),
    MODE: env.oneOf(['a', 'b'] as const, { default: 'a' }),
    NAME: env.string(),
    HOME_URL: env.url({ default: 'http://localhost' }),
    EXTRA: env.optional(),
    RATIO: z.coerce.number().min(0).max(1).default(0.5),
  };

  it('parses, applies defaults and mixes Standard Schema libraries', () => {
    const values = loadConfig(spec, { NAME: 'n', WORKERS: '4', DEBUG: 'yes', MODE: 'b', RATIO: '0.25' });
    assert.deepEqual(values, {
      PORT: 3000,
      WORKERS: 4,
      DEBUG: true,
      MODE: 'b',
      NAME: 'n',
      HOME_URL: 'http://localhost',
      EXTRA: undefined,
      RATIO: 0.25,
    });
  });

  const failures: Array<[Record<string, string>, RegExp]> = [
    [{}, /^NAME: is required but not set$/],
    [{ NAME: 'n', PORT: '70000' }, /^PORT: must be <= 65535, got 70000$/],
    [{ NAME: 'n', PORT: '80a' }, /^PORT: must be an integer, got "80a"$/],
    [{ NAME: 'n', WORKERS: '0' }, /^WORKERS: must be >= 1, got 0$/],
    [{ NAME: 'n', DEBUG: 'maybe' }, /^DEBUG: must be true or false, got "maybe"$/],
    [{ NAME: 'n', MODE: 'c' }, /^MODE: must be one of a, b, got "c"$/],
    [{ NAME: 'n', HOME_URL: 'not a url' }, /^HOME_URL: must be a URL/],
    [{ NAME: 'n', RATIO: '2' }, /^RATIO: /],
  ];
  for (const [source, message] of failures) {
    it(`names the variable: ${message.source}`, () => {
      assert.throws(
        () => loadConfig(spec, source),
        (error: unknown) => {
          assert.equal((error as { code: string }).code, 'CLEAVE_CONFIG_INVALID');
          assert.match((error as Error).message, message);
          return true;
        },
      );
    });
  }

  it('defineConfig loads on first read and is typed', () => {
    const config = defineConfig({ PAGE: env.int({ default: 10 }) });
    config.load({ PAGE: '25' });
    const page: number = config.values.PAGE;
    assert.equal(page, 25);
  });
});
