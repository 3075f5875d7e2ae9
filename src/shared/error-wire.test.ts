import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as errors from '../errors.ts';
import { fromWire, toWire } from './error-wire.ts';

const samples: errors.CleaveError[] = [
  new errors.BadRequestError('bad'),
  new errors.InvalidJsonError('json'),
  new errors.ValidationError('query', [{ path: 'a.b', message: 'wrong' }]),
  new errors.UsageError('usage'),
  new errors.ExportError('two services claim one path'),
  new errors.UnauthorizedError(),
  new errors.RouteNotFoundError('none'),
  new errors.MethodNotAllowedError(['GET', 'HEAD']),
  new errors.RequestTimeoutError('slow'),
  new errors.StoreConflictError('c', 'k', 1, 2),
  new errors.BodyTooLargeError(10),
  new errors.UnsupportedMediaTypeError('type'),
  new errors.HeadersTooLargeError('big'),
  new errors.HttpError(409, 'TAKEN', 'name taken', { details: { name: 'ada' } }),
  new errors.InternalError(),
  new errors.TaskFailedError('auth.hash', 'boom'),
  new errors.TaskWorkerLostError('auth.hash', 'its worker died twice'),
  new errors.TaskNotFoundError('no task'),
  new errors.TaskQueueFullError('full'),
  new errors.StoreCorruptError('corrupt'),
  new errors.StoreUnavailableError('down'),
  new errors.InvalidKeyError('key "\\u0001" contains a control character'),
  new errors.ClientClosedError('gone'),
  new errors.ConfigError('PORT', 'must be a port'),
  new errors.AppDefinitionError('bad app'),
  new errors.ListenFailedError('port 3000 is in use'),
  new errors.RateLimitedError('slow down', 30),
  new errors.UriTooLongError('too long'),
  new errors.SupervisorUnavailableError('no supervisor serves port 3000'),
  new errors.RedisUnavailableError('cannot use Redis at redis://127.0.0.1:6379/: ECONNREFUSED'),
  new errors.NatsUnavailableError('cannot use NATS at nats://127.0.0.1:4222: CONNECTION_REFUSED'),
  new errors.ShuttingDownError('stopping'),
  new errors.HandlerTimeoutError(100),
  new errors.CallTimeoutError('users.profile', 250),
  new errors.ActionNotFoundError('no action users.nope'),
  new errors.CollectionAccessError('posts may not read users/accounts'),
  new errors.UpstreamUnavailableError('no replica'),
  new errors.NodeDeclinedError(),
  new errors.UpstreamTimeoutError('slow replica'),
];

describe('error wire format', () => {
  it('has a sample for every class in the catalog', () => {
    const classes = (Object.values(errors) as unknown[]).filter(
      (value) =>
        typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof errors.CleaveError,
    );
    assert.equal(new Set(samples.map((error) => error.constructor)).size, classes.length);
  });

  for (const original of samples) {
    it(`${original.code} comes back as the same class with the same data`, () => {
      const wire = JSON.parse(JSON.stringify(toWire(original))) as ReturnType<typeof toWire>;
      const back = fromWire(wire);
      assert.equal(back.constructor, original.constructor);
      assert.equal(back.code, original.code);
      assert.equal(back.status, original.status);
      assert.equal(back.message, original.message);
      assert.deepEqual(back.toJSON(), original.toJSON());
      assert.equal(back.retryable, original.retryable);
    });
  }

  it('hides the message of a non-cleave error and maps an unknown code to internal', () => {
    assert.deepEqual(toWire(new Error('password=hunter2')), {
      code: 'CLEAVE_INTERNAL',
      message: 'internal error',
      status: 500,
    });
    assert.equal(fromWire({ code: 'SOMETHING_NEW', message: 'x' }).code, 'CLEAVE_INTERNAL');
  });
});
