import { defineConfig, env } from 'cleave';

export const config = defineConfig({
  /** How many posts GET /api/posts returns at most. */
  FORUM_PAGE_SIZE: env.int({ default: 50, min: 1, max: 500 }),
  /** When the stats job runs (seconds field first). */
  FORUM_STATS_SCHEDULE: env.string({ default: '*/10 * * * * *' }),
});
