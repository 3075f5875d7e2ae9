// The JetStream and key-value clients, loaded by a process that uses them (a supervisor whose
// tasks run on NATS), and the one refusal cleave tells apart by its code.

import { loadOnUse } from '../shared/load-on-use.ts';

export const jetstreamClient = loadOnUse<typeof import('@nats-io/jetstream')>('@nats-io/jetstream');
export const kvClient = loadOnUse<typeof import('@nats-io/kv')>('@nats-io/kv');

/** A subject holds `max_msgs_per_subject` and its stream discards new messages. */
const SUBJECT_FULL = 10077;

export function isSubjectFull(error: unknown): boolean {
  return codeOf(error) === SUBJECT_FULL;
}

/** True when `error` says the stream or consumer asked for does not exist (yet). */
export function isNotFound(error: unknown): boolean {
  const { JetStreamApiCodes } = jetstreamClient();
  const code = codeOf(error);
  return code === JetStreamApiCodes.StreamNotFound || code === JetStreamApiCodes.ConsumerNotFound;
}

function codeOf(error: unknown): number | undefined {
  return error instanceof jetstreamClient().JetStreamApiError ? error.code : undefined;
}
