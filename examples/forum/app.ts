// The forum: four services that run in one process (`cleave dev`) or split.

import { defineApp } from 'cleave';
import { auth } from './auth.ts';
import { chat } from './chat.ts';
import { config } from './config.ts';
import { posts } from './posts.ts';
import { web } from './web.ts';

export default defineApp({
  name: 'forum',
  services: [web, auth, posts, chat],
  config,
  // Every API route: 300 requests a minute per address, 1200 per signed-in user.
  rateLimit: { anonymous: { requests: 300, perSeconds: 60 }, authenticated: { requests: 1200, perSeconds: 60 } },
});
