// One ServiceContext per service: the seam between a service's code and the
// ports (bus, store, queue). Services never see an adapter, which is why the
// same code runs together or split.

import type { Logger } from 'pino';
import type { ServiceContext } from '../app/context.ts';
import type { TaskRef } from '../app/task.ts';
import type { Bus, EventHandler } from '../bus/types.ts';
import { checkInvalidateTargets, INVALIDATE_TOPIC, type InvalidateMessage } from '../cache/invalidation.ts';
import type { Job, TaskQueue } from '../queue/types.ts';
import { ActionNotFoundError, CollectionAccessError } from '../errors.ts';
import type { CallOptions } from '../app/action.ts';
import { freshMeta, type CallWithMeta } from '../calls/call-context.ts';
import { Collection } from '../store/collection.ts';
import type { StoreBackend } from '../store/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import { measuredStore } from '../store/measured.ts';
import { carrierOf } from '../observability/tracing.ts';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;

export interface Ports {
  bus: Bus;
  store: StoreBackend;
  queue: TaskQueue;
  /** ctx.call with a chain's meta (the process's ActionCaller); absent, a call is ActionNotFoundError. */
  calls?: CallWithMeta;
  /** Counts the events each service emits and times its store operations; none when absent. */
  metrics?: Metrics;
  /**
   * The topics the app's listeners hear: an event's metrics name only these, others are
   * `other`, so topics made up at run time (`room.${id}`) can't make series.
   */
  declaredTopics?: ReadonlySet<string>;
}

export class ServiceContexts {
  private readonly contexts = new Map<string, ServiceContext>();

  private readonly ports: Ports;
  private readonly log: Logger;

  constructor(ports: Ports, log: Logger) {
    this.ports = ports;
    this.log = log;
  }

  for(service: string): ServiceContext {
    let context = this.contexts.get(service);
    if (!context) {
      context = this.create(service);
      this.contexts.set(service, context);
    }
    return context;
  }

  private create(service: string): ServiceContext {
    const { bus, queue, calls, metrics } = this.ports;
    const store = metrics ? measuredStore(this.ports.store, metrics) : this.ports.store;
    const collections = new Map<string, Collection<unknown>>();
    return {
      service,
      log: this.log.child({ service }),
      emit: (topic, payload) => {
        metrics?.eventPublished(service, this.ports.declaredTopics?.has(topic) ? topic : 'other');
        // The emitting span's trace context travels with the event, so its listeners join the trace.
        return bus.publish(topic, payload, carrierOf());
      },
      on: <T>(topic: string, handler: EventHandler<T>) => bus.subscribe(topic, handler as EventHandler),
      off: (topic, handler) => bus.unsubscribe(topic, handler),
      run: <I, O>(task: TaskRef<I, O>, input: I) => {
        const trace = carrierOf();
        const id = typeof task === 'string' ? task : task.id;
        return (trace === undefined ? queue.run(id, input) : queue.run(id, input, { trace })) as Promise<O>;
      },
      enqueue: <I, O>(task: TaskRef<I, O>, input: I) =>
        queue.enqueue(typeof task === 'string' ? task : task.id, input) as Promise<Job<O>>,
      job: <O>(id: string) => queue.job(id) as Promise<Job<O> | undefined>,
      call: (action: unknown, input: unknown, options?: CallOptions) => {
        if (!calls) return Promise.reject(new ActionNotFoundError('this process makes no calls'));
        // Cron runs and listeners start a chain of their own.
        return calls(action, input, options, freshMeta()) as Promise<never>;
      },
      invalidate: async (...targets: string[]) => {
        checkInvalidateTargets(targets);
        const message: InvalidateMessage = { targets };
        await bus.publish(INVALIDATE_TOPIC, message);
      },
      store: <T>(name: string) => {
        if (name.includes('/')) {
          // "auth/accounts": another service's data, reached only through its calls or events.
          throw new CollectionAccessError(`${service} may not reach the collection ${name}: call its owner instead`);
        }
        if (!COLLECTION_NAME.test(name)) throw new TypeError(`collection name "${name}" must match ${COLLECTION_NAME}`);
        let collection = collections.get(name);
        if (!collection) {
          // Namespaced by service: a service owns its collections (database per service).
          collection = new Collection(store, `${service}/${name}`);
          collections.set(name, collection);
        }
        return collection as Collection<T>;
      },
    };
  }
}
