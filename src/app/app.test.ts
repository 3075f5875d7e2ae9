import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineApp, findTask } from './app.ts';
import { defineService } from './service.ts';

describe('defineApp', () => {
  it('refuses a service listed twice', () => {
    const a = defineService('a');
    assert.throws(() => defineApp({ name: 'x', services: [a, defineService('a')] }), {
      code: 'CLEAVE_APP_INVALID',
      message: /service "a" is listed twice/,
    });
  });

  it('refuses one route declared by two services, whatever the param names', () => {
    const a = defineService('a').get('/api/items/:id', () => null);
    const b = defineService('b').get('/api/items/:itemId', () => null);
    assert.throws(() => defineApp({ name: 'x', services: [a, b] }), {
      code: 'CLEAVE_APP_INVALID',
      message: /GET \/api\/items\/:itemId is declared by both a and b/,
    });
    const c = defineService('c').post('/api/items/:id', () => null);
    assert.doesNotThrow(() => defineApp({ name: 'x', services: [a, c] }), 'another method is another route');
  });

  it('refuses a socket path or a static prefix claimed twice', () => {
    const a = defineService('a').socket('/ws', {});
    const b = defineService('b').socket('/ws', {});
    assert.throws(() => defineApp({ name: 'x', services: [a, b] }), /socket \/ws is declared by both/);
    const c = defineService('c').static('/', { dir: '.' });
    const d = defineService('d').static('/', { dir: '.' });
    assert.throws(() => defineApp({ name: 'x', services: [c, d] }), /static files at \/ are declared by both/);
  });

  it("refuses routes under /_cleave/, cleave's own paths", () => {
    const a = defineService('a').get('/_cleave/health', () => null);
    assert.throws(() => defineApp({ name: 'x', services: [a] }), {
      code: 'CLEAVE_APP_INVALID',
      message: /GET \/_cleave\/health: paths under \/_cleave\/ are cleave's own/,
    });
  });

  it('finds tasks by id', () => {
    const service = defineService('math');
    const double = service.task('double', (n: number) => n * 2);
    const app = defineApp({ name: 'x', services: [service] });
    assert.equal(findTask(app, 'math.double'), double);
    assert.equal(findTask(app, 'math.nope'), undefined);
    assert.equal(findTask(app, 'nodot'), undefined);
  });
});

describe('defineService', () => {
  it('checks names, paths, topics and duplicates when declared', () => {
    assert.throws(() => defineService('Bad Name'), { code: 'CLEAVE_APP_INVALID' });
    const service = defineService('ok');
    assert.throws(() => service.get('no-slash', () => null), /a path starts with "\/"/);
    assert.throws(() => service.get('/a?b', () => null), { code: 'CLEAVE_APP_INVALID' });
    assert.throws(() => service.on('bad topic!', () => {}), { code: 'CLEAVE_APP_INVALID' });
    service.cron('tick', '* * * * * *', () => {});
    assert.throws(() => service.cron('tick', '* * * * * *', () => {}), /declared twice/);
    service.task('t', () => 1);
    assert.throws(() => service.task('t', () => 1), /declared twice/);
  });

  it('takes a scale policy: one replica at least, up to the machine budget, with default targets', () => {
    const defaults = { target: { inFlight: 100, eventLoop: 0.7 }, downAfterMs: 30_000 };
    assert.deepEqual(defineService('one').scale, { min: 1, max: Infinity, ...defaults });
    assert.deepEqual(defineService('many', { scale: { min: 3 } }).scale, { min: 3, max: Infinity, ...defaults });
    const range = defineService('range', { scale: { min: 2, max: 8, target: { inFlight: 4 }, downAfterMs: 5000 } });
    assert.deepEqual(range.scale, { min: 2, max: 8, target: { inFlight: 4, eventLoop: 0.7 }, downAfterMs: 5000 });
    assert.throws(() => defineService('bad', { scale: { min: 0 } }), { code: 'CLEAVE_APP_INVALID' });
    assert.throws(() => defineService('bad', { scale: { min: 4, max: 2 } }), { code: 'CLEAVE_APP_INVALID' });
    assert.throws(() => defineService('bad', { scale: { target: { eventLoop: 1.5 } } }), {
      code: 'CLEAVE_APP_INVALID',
    });
    assert.throws(() => defineService('bad', { scale: { target: { inFlight: 0 } } }), { code: 'CLEAVE_APP_INVALID' });
  });

  it('types params from the path and the body from its schema', () => {
    const service = defineService('typed');
    service.post('/things/:thingId/parts/:partId', { body: z.object({ n: z.number() }) }, (ctx) => {
      const thing: string = ctx.params.thingId;
      const part: string = ctx.params.partId;
      const n: number = ctx.body.n;
      // @ts-expect-error: no such param in the path
      void ctx.params.other;
      // @ts-expect-error: the body schema has no such field
      void ctx.body.missing;
      return { thing, part, n };
    });
    assert.equal(service.routes.length, 1);
  });
});
