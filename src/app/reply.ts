// Explicit responses. A handler may also return a plain value: an object or
// array is JSON, a string is text, a Readable is streamed, undefined is 204.

import type { Readable } from 'node:stream';

export type ReplyBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; value: string }
  | { kind: 'stream'; value: Readable | ReadableStream<Uint8Array> }
  | { kind: 'empty' };

export interface ReplyInit {
  status?: number;
  headers?: Record<string, string | string[]>;
}

export class Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: ReplyBody;

  constructor(body: ReplyBody, init: ReplyInit = {}) {
    this.body = body;
    this.status = init.status ?? (body.kind === 'empty' ? 204 : 200);
    this.headers = init.headers ?? {};
  }
}

export const reply = {
  json(value: unknown, init?: ReplyInit): Reply {
    return new Reply({ kind: 'json', value }, init);
  },
  text(value: string, init?: ReplyInit): Reply {
    return new Reply({ kind: 'text', value }, init);
  },
  stream(value: Readable | ReadableStream<Uint8Array>, init?: ReplyInit): Reply {
    return new Reply({ kind: 'stream', value }, init);
  },
  /** A bare status, no body: `reply.status(202)`. */
  status(status: number, init?: Omit<ReplyInit, 'status'>): Reply {
    return new Reply({ kind: 'empty' }, { ...init, status });
  },
  /**
   * 202 Accepted for work that goes on after the response: `Location` says where its status
   * will be (`reply.accepted(\`/api/exports/${job.id}\`, job)` after `ctx.enqueue`).
   */
  accepted(location: string, body?: unknown): Reply {
    const init = { status: 202, headers: { location } };
    return body === undefined ? new Reply({ kind: 'empty' }, init) : new Reply({ kind: 'json', value: body }, init);
  },
  redirect(location: string, status: 301 | 302 | 303 | 307 | 308 = 302): Reply {
    return new Reply({ kind: 'empty' }, { status, headers: { location } });
  },
};
