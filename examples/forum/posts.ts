// Posts: read by everyone, written by signed-in users. Every new post is an
// event (chat pushes it to browsers); a cron job keeps the stats fresh.

import { randomBytes } from 'node:crypto';
import { defineService, HttpError, reply } from 'cleave';
import { z } from 'zod';
import { publicProfile } from './auth.ts';
import { config } from './config.ts';

// Two replicas when split: reads are the hot path, and the stats job still runs once per tick.
export const posts = defineService('posts', { scale: { min: 2 } });

export interface Post {
  id: string;
  text: string;
  author: { id: string; username: string };
  createdAt: string;
}

interface Stats {
  posts: number;
  users: number;
  updatedAt: string | null;
}

/** Time-ordered ids: the store lists keys in order, so newest first is a reverse. */
function newPostId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}${randomBytes(3).toString('hex')}`;
}

// The front page is the hottest read: the edge keeps it a few seconds, the same for everyone
// (public: signed-in browsers send a cookie), and drops it the moment a post is created.
posts.get('/api/posts', { cache: { maxAge: 5, public: true, invalidatedBy: ['post.created'] } }, async (ctx) => {
  const all = await ctx.store<Post>('posts').list();
  return {
    posts: all
      .reverse()
      .slice(0, config.values.FORUM_PAGE_SIZE)
      .map((record) => record.value),
  };
});

// A post never changes once written; a 404 for an id not created yet is dropped when it is
// (the POST's Location names it).
posts.get('/api/posts/:id', { cache: { maxAge: 60, public: true } }, async (ctx) => {
  const record = await ctx.store<Post>('posts').get(ctx.params.id);
  if (!record) throw new HttpError(404, 'POST_NOT_FOUND', `no post ${ctx.params.id}`);
  return record.value;
});

posts.post('/api/posts', { auth: true, body: z.object({ text: z.string().trim().min(1).max(2000) }) }, async (ctx) => {
  // The author as auth knows them now (a call), not as the session token said at sign-in.
  const author = await ctx.call(publicProfile, { id: (ctx.user as { id: string }).id });
  const post: Post = {
    id: newPostId(),
    text: ctx.body.text,
    author: { id: author.id, username: author.username },
    createdAt: new Date().toISOString(),
  };
  await ctx.store<Post>('posts').put(post.id, post, { ifVersion: 0 });
  await ctx.emit('post.created', post);
  return reply.json(post, { status: 201, headers: { location: `/api/posts/${post.id}` } });
});

posts.get('/api/stats', async (ctx) => {
  const stats = await ctx.store<Stats>('stats').get('current');
  return stats?.value ?? { posts: 0, users: 0, updatedAt: null };
});

// Users belong to the auth service; posts learns of them by event, not by
// reading auth's data.
// A listener runs once per event for the service (one replica of the pool when split), at
// most once: it records who exists (a put keyed by user id), so running it again is harmless.
posts.on<{ id: string; username: string }>('user.created', async (user, ctx) => {
  await ctx.store<{ username: string }>('users').put(user.id, { username: user.username });
});

posts.cron('stats', config.values.FORUM_STATS_SCHEDULE, async (ctx) => {
  const [all, users] = await Promise.all([ctx.store<Post>('posts').list(), ctx.store('users').list()]);
  const stats: Stats = { posts: all.length, users: users.length, updatedAt: new Date().toISOString() };
  await ctx.store<Stats>('stats').put('current', stats);
});
