// The framing of calls between replicas: each message is a 4-byte big-endian length and that
// many bytes of JSON, on a unix socket kept open between two replicas, with many calls in
// flight on it at once (as Moleculer's TCP transporter frames its packets). Written by hand
// because the benchmark showed HTTP/1.1 per call to be the cost (bench/calls.ts: a request
// and a response with their headers parsed and written per call, one connection per call in
// flight, against one framed stream whose writes Node batches).

import { BodyTooLargeError } from '../errors.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

/** caller → callee */
export interface CallFrame {
  /** The call's number on this connection. */
  i: number;
  /** The action's id. */
  a: string;
  /** The chain's request id. */
  r: string;
  /** ms left before the caller's deadline. */
  d: number;
  /** The input, absent when undefined. */
  p?: unknown;
  /** The calling span's trace context (tracing.ts), absent when the caller traces nothing. */
  t?: TraceCarrier;
}

/** callee → caller: the output (`o`), an error (`e`, a wire error), or `n`: not run (stopping). */
export type AnswerFrame = { i: number; o?: unknown } | { i: number; e: unknown } | { i: number; n: 1 };

/** Largest frame either side accepts: inputs and outputs are small values, as request bodies are. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** The frame for `message`; throws FrameTooLargeError past MAX_FRAME_BYTES, TypeError for what JSON can't carry. */
export function encodeFrame(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  if (json.length > MAX_FRAME_BYTES) throw new BodyTooLargeError(MAX_FRAME_BYTES);
  const frame = Buffer.allocUnsafe(4 + json.length);
  frame.writeUInt32BE(json.length, 0);
  json.copy(frame, 4);
  return frame;
}

/**
 * Cuts a byte stream into frames; throws on a frame over MAX_FRAME_BYTES (a protocol fault:
 * senders check) or one that is not JSON. A large frame arriving in many chunks is joined
 * once, when complete, not chunk by chunk.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #size = 0;
  /** Bytes the frame being read needs, once its length is known. */
  #needed = 4;
  readonly #parse: (text: string) => unknown;

  constructor(parse: (text: string) => unknown = JSON.parse) {
    this.#parse = parse;
  }

  /** The messages `chunk` completes, in order. */
  push(chunk: Buffer): unknown[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size < this.#needed) return [];
    const buffer = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#size);
    const messages: unknown[] = [];
    let offset = 0;
    this.#needed = 4;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (length > MAX_FRAME_BYTES) throw new RangeError(`a call frame of ${length} bytes is over the limit`);
      if (buffer.length - offset - 4 < length) {
        this.#needed = 4 + length;
        break;
      }
      messages.push(this.#parse(buffer.toString('utf8', offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    const rest = buffer.subarray(offset);
    this.#chunks = rest.length === 0 ? [] : [rest];
    this.#size = rest.length;
    return messages;
  }
}
