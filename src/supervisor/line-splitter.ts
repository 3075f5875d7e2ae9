// Cuts a byte stream into lines for the log relay. Works on Buffers, not strings: a pino
// line passes through the relay without ever being decoded, and a chunk that ends inside
// a multi-byte character is simply joined to the next one before anyone looks at it.
//
// Memory is bounded per stream: a line longer than `maxLineBytes` (a child printing a huge
// object, or binary junk with no newline) is cut at the cap, reported as truncated, and the
// rest of it is skipped up to the next newline.

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** `line` excludes the newline (and a Windows \r before it); `truncated` marks a line cut at the cap. */
export type LineListener = (line: Buffer, truncated: boolean) => void;

export class LineSplitter {
  readonly #maxLineBytes: number;
  /** Start of a line whose end has not arrived yet. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** True after a line was cut at the cap, until its newline arrives. */
  #skipping = false;

  constructor(maxLineBytes: number) {
    if (!(maxLineBytes >= 1)) throw new RangeError(`maxLineBytes must be at least 1, got ${maxLineBytes}`);
    this.#maxLineBytes = maxLineBytes;
  }

  /** Calls `onLine` for each line that `chunk` completes, in order. */
  push(chunk: Buffer, onLine: LineListener): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) break;
      if (this.#skipping) {
        this.#skipping = false;
      } else if (this.#pendingBytes === 0) {
        this.#emit(chunk.subarray(start, newline), onLine);
      } else {
        this.#pending.push(chunk.subarray(start, newline));
        const line = Buffer.concat(this.#pending);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#emit(line, onLine);
      }
      start = newline + 1;
    }
    if (start < chunk.length && !this.#skipping) this.#hold(chunk.subarray(start), onLine);
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(onLine: LineListener): void {
    if (this.#pendingBytes > 0) onLine(Buffer.concat(this.#pending), false);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = false;
  }

  #emit(line: Buffer, onLine: LineListener): void {
    if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, -1);
    if (line.length > this.#maxLineBytes) onLine(line.subarray(0, this.#maxLineBytes), true);
    else onLine(line, false);
  }

  #hold(part: Buffer, onLine: LineListener): void {
    const room = this.#maxLineBytes - this.#pendingBytes;
    if (part.length <= room) {
      // A subarray keeps the chunk alive, never copies it; Node does not reuse a chunk's memory.
      this.#pending.push(part);
      this.#pendingBytes += part.length;
      return;
    }
    this.#pending.push(part.subarray(0, room));
    const line = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = true;
    onLine(line, true);
  }
}
