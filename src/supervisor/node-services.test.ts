import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { defineApp } from '../app/app.ts';
import { defineService } from '../app/service.ts';
import { ConfigError } from '../errors.ts';
import { servicesOfThisNode } from './node-services.ts';
import { TaskBroker } from './task-broker.ts';

const web = defineService('web');
const auth = defineService('auth');
auth.task('hash', (password: string) => password);
const posts = defineService('posts');
posts.task('index', (text: string) => text.length);
const app = defineApp({ name: 'shop', services: [web, auth, posts] });
const NATS = 'nats://127.0.0.1:4222';
const names = (services: ReturnType<typeof servicesOfThisNode>) => services.map((service) => service.name);

describe('which services a node runs', () => {
  it('runs every service unless told otherwise, with or without NATS', () => {
    assert.deepEqual(names(servicesOfThisNode(app, { CLEAVE_GATEWAY_ONLY: false })), ['web', 'auth', 'posts']);
    assert.deepEqual(names(servicesOfThisNode(app, { CLEAVE_GATEWAY_ONLY: false, CLEAVE_NATS_URL: NATS })), [
      'web',
      'auth',
      'posts',
    ]);
  });

  it('runs those --only names, in the app’s order, and none with --gateway-only', () => {
    const only = { CLEAVE_ONLY: ['posts', 'web'], CLEAVE_GATEWAY_ONLY: false, CLEAVE_NATS_URL: NATS };
    assert.deepEqual(names(servicesOfThisNode(app, only)), ['web', 'posts']);
    assert.deepEqual(names(servicesOfThisNode(app, { CLEAVE_GATEWAY_ONLY: true, CLEAVE_NATS_URL: NATS })), []);
  });

  it('refuses a name the app lacks, both flags at once, and part of the app without NATS', () => {
    const refused = (config: Parameters<typeof servicesOfThisNode>[1], variable: string, message: RegExp) =>
      assert.throws(
        () => servicesOfThisNode(app, config),
        (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message),
      );
    refused(
      { CLEAVE_ONLY: ['posts', 'billing'], CLEAVE_GATEWAY_ONLY: false, CLEAVE_NATS_URL: NATS },
      'CLEAVE_ONLY',
      /billing is not a service of shop \(its services: web, auth, posts\)/,
    );
    refused(
      { CLEAVE_ONLY: ['posts'], CLEAVE_GATEWAY_ONLY: true, CLEAVE_NATS_URL: NATS },
      'CLEAVE_GATEWAY_ONLY',
      /excludes/,
    );
    refused({ CLEAVE_ONLY: ['posts'], CLEAVE_GATEWAY_ONLY: false }, 'CLEAVE_ONLY', /set CLEAVE_NATS_URL/);
  });

  it('gives a node task pools only for the services it runs', () => {
    const broker = (services?: string[]) =>
      new TaskBroker({
        app,
        appModule: '/nowhere.ts',
        log: pino({ level: 'silent' }),
        maxQueue: 1,
        ...(services ? { services } : {}),
      });
    assert.deepEqual(
      broker().pools.map((pool) => pool.service),
      ['auth', 'posts'],
    );
    assert.deepEqual(
      broker(['web', 'posts']).pools.map((pool) => pool.service),
      ['posts'],
    );
  });
});
