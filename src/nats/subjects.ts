import { createHash } from 'node:crypto';

// Where cleave's messages live on NATS: every subject starts `cleave.<app>.`, so apps sharing
// one NATS never hear each other. A name that is not a plain dotted one (an empty token, a
// character NATS gives a meaning to) is carried as base64url under a marker token of its own,
// so no two names ever share a subject.

const PLAIN_TOKEN = /^[A-Za-z0-9_:-]+$/;

/** `post.created` → `cleave.forum.events.post.created`. */
export function eventSubject(app: string, topic: string): string {
  return `cleave.${token(app)}.events.${dotted(topic)}`;
}

/** A single subject token (no dots): an app's name, a queue group's. */
export function token(name: string): string {
  return PLAIN_TOKEN.test(name) ? name : `~${Buffer.from(name).toString('base64url')}`;
}

function dotted(name: string): string {
  return name.split('.').every((part) => PLAIN_TOKEN.test(part))
    ? name
    : `~.${Buffer.from(name).toString('base64url') || '~'}`;
}

/** Where a service's actions are called from other nodes: `cleave.forum.calls.auth`. */
export function callSubject(app: string, service: string): string {
  return `cleave.${token(app)}.calls.${token(service)}`;
}

/** Where the nodes of an app say they are alive (and that they leave). */
export function nodesSubject(app: string): string {
  return `cleave.${token(app)}.nodes`;
}

/**
 * Where a service's tasks wait for a worker on any node: `cleave.forum.tasks.auth`; with no
 * service, every service's (`cleave.forum.tasks.*`).
 */
export function taskSubject(app: string, service?: string): string {
  return `cleave.${token(app)}.tasks.${service === undefined ? '*' : token(service)}`;
}

/** Where a task goes whose worker died on every delivery: `cleave.forum.dead-tasks.auth`. */
export function deadTaskSubject(app: string, service?: string): string {
  return `cleave.${token(app)}.dead-tasks.${service === undefined ? '*' : token(service)}`;
}

const RESOURCE_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * The name of one of an app's JetStream streams or key-value buckets: `cleave_forum_tasks`.
 * Those names allow fewer characters than a subject token, so an app named otherwise is
 * known by a digest of its name.
 */
export function resourceName(app: string, kind: string): string {
  const name = RESOURCE_NAME.test(app) ? app : createHash('sha256').update(app).digest('hex').slice(0, 16);
  return `cleave_${name}_${kind}`;
}

/** The durable JetStream consumer of a service's tasks, shared by every node's feeder. */
export function taskConsumerName(service: string): string {
  return token(service);
}
