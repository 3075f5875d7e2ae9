// A task is a named, CPU-heavy, pure function (input -> output) that runs in a
// worker thread, never on the event loop serving requests. Input and output
// cross a thread boundary, so they must be structured-cloneable.

export type TaskHandler<I, O> = (input: I) => O | Promise<O>;

export interface TaskDefinition<I = unknown, O = unknown> {
  /** `service.name`, the id callers pass to ctx.run(). */
  readonly id: string;
  readonly service: string;
  readonly name: string;
  readonly handler: TaskHandler<I, O>;
}

/** What ctx.run() accepts: the definition (typed) or its id. */
export type TaskRef<I = unknown, O = unknown> = TaskDefinition<I, O> | string;
