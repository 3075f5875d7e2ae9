// The cron folder's public face.

export { CronScheduler, type CronSchedulerOptions } from './scheduler.ts';
