import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { z } from 'zod';
import { defineApp } from '../app/app.ts';
import type { ServiceContext } from '../app/context.ts';
import { defineService } from '../app/service.ts';
import { CallTimeoutError, HttpError, InternalError, ValidationError } from '../errors.ts';
import { ActionCaller } from './action-caller.ts';
import { freshMeta } from './call-context.ts';

const log = pino({ level: 'silent' });
const users = defineService('users');
const front = defineService('front');
const greet = users.action('greet', { input: z.object({ name: z.string() }) }, ({ name }) => `hello ${name}`);
const fail = users.action('fail', {}, () => {
  throw new HttpError(404, 'NOPE', 'not here');
});
const crash = users.action('crash', {}, () => {
  throw new Error('secret detail');
});
const lies = users.action(
  'lies',
  { output: z.object({ n: z.number() }) },
  () => ({ n: 'one' }) as unknown as { n: number },
);
const slow = users.action('slow', { timeoutMs: 100 }, (_input, ctx) => {
  return new Promise<string>((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted')));
});
const chain = users.action('chain', {}, (_input, ctx) => ({ requestId: ctx.requestId, deadline: ctx.deadline }));
const app = defineApp({ name: 'calls-unit', services: [users, front] });

function callerFor(local: string[]): ActionCaller {
  const context = { service: 'users', log } as unknown as ServiceContext;
  return new ActionCaller({ app, local: new Set(local), contextFor: () => context, log });
}

describe('ActionCaller in one process', () => {
  const caller = callerFor(['users', 'front']);

  it('calls the action as a function, by definition or by id, with its input validated', async () => {
    assert.equal(await caller.call(greet, { name: 'Ada' }, undefined, freshMeta()), 'hello Ada');
    assert.equal(await caller.call('users.greet', { name: 'Bo' }, undefined, freshMeta()), 'hello Bo');
    await assert.rejects(caller.call(greet, { name: 1 }, undefined, freshMeta()), ValidationError);
  });

  it('passes the callee’s CleaveError through, and hides any other error behind CLEAVE_INTERNAL', async () => {
    await assert.rejects(caller.call(fail, undefined, undefined, freshMeta()), (error: unknown) => {
      return error instanceof HttpError && error.reason === 'NOPE';
    });
    await assert.rejects(caller.call(crash, undefined, undefined, freshMeta()), (error: unknown) => {
      return error instanceof InternalError && !error.message.includes('secret');
    });
    await assert.rejects(caller.call(lies, undefined, undefined, freshMeta()), InternalError);
  });

  it('fails at the sooner of its timeouts, or at once past the chain’s deadline', async () => {
    const started = Date.now();
    await assert.rejects(caller.call(slow, undefined, undefined, freshMeta()), CallTimeoutError);
    assert.ok(Date.now() - started < 300);
    const tight = Date.now();
    await assert.rejects(caller.call(slow, undefined, { timeoutMs: 20 }, freshMeta()), CallTimeoutError);
    assert.ok(Date.now() - tight < 100);
    await assert.rejects(
      caller.call(slow, undefined, undefined, { requestId: 'r', deadline: Date.now() - 1 }),
      CallTimeoutError,
    );
  });

  it('hands the chain’s request id and deadline to the action', async () => {
    const deadline = Date.now() + 5000;
    const seen = (await caller.call(chain, undefined, undefined, { requestId: 'req-1', deadline })) as {
      requestId: string;
      deadline: number;
    };
    assert.equal(seen.requestId, 'req-1');
    assert.equal(seen.deadline, deadline);
  });

  it('says so for an action no service declares, or one that runs nowhere it can reach', async () => {
    await assert.rejects(caller.call('users.nope', undefined, undefined, freshMeta()), {
      code: 'CLEAVE_ACTION_NOT_FOUND',
    });
    await assert.rejects(callerFor(['front']).call(greet, { name: 'x' }, undefined, freshMeta()), {
      code: 'CLEAVE_ACTION_NOT_FOUND',
    });
  });
});

/** Never run: it type-checks (npm run typecheck) or the build fails. */
export function typeChecks(ctx: ServiceContext): void {
  void ctx.call(greet, { name: 'Ada' }).then((text: string) => text.toUpperCase());
  // @ts-expect-error the input's field has the wrong type
  void ctx.call(greet, { name: 1 });
  // @ts-expect-error an action nobody declared in Actions
  void ctx.call('users.unknown', {});
}
