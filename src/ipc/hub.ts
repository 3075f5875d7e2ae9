// The supervisor's end of split mode: one source of truth for every replica. Replicas' calls
// (store, lock, tasks, rate counters) are answered by the handlers each port gives the hub
// (./handlers.ts), and the hub is the app's event bus.
//
// Delivery: a replica's publish comes here, and the hub sends it once to every channel
// subscribed to the topic (the publisher's included) and to its own local subscribers; each
// replica fans it out to its handlers. The hub is the only place that orders events, so
// every subscriber sees them in the same order, and each subscriber gets each event once.
// A group subscription (a service's listeners, grouped by service, as NATS queue groups)
// gets each event once per group: the hub sends it to one member, in turn.
//
// Leases outlive a replica's detach. Cron takes one lease per job per tick and never
// releases it, so a late replica finds the tick taken; releasing a replica's leases when it
// exits (scale-down, crash after the run) would let that late replica run the tick again.
// A lease held by a replica that died mid-run ends with its TTL, as a Lock lease does.

import { MemoryBus } from '../bus/memory.ts';
import type { Bus, EventHandler } from '../bus/types.ts';
import { CleaveError, InternalError } from '../errors.ts';
import { toWire } from '../shared/error-wire.ts';
import type { IpcChannel } from './channel.ts';
import type { RpcHandlers } from './handlers.ts';
import type { TraceCarrier } from '../observability/tracing.ts';
import {
  isIpcMessage,
  PROTOCOL_VERSION,
  subscriptionKey,
  type EventMessage,
  type IpcMessage,
  type RpcMethod,
  type RpcRequest,
  type RpcResponse,
} from './messages.ts';

/** The part of a pino logger the hub uses. */
export interface HubLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface IpcHubOptions {
  /**
   * What the hub answers: each port's handlers (serveStore, serveLock, serveTasks,
   * serveRateCounters). A method no handler serves fails with InternalError; one served
   * twice is a mistake caught here. The backends' start/stop stay the caller's.
   */
  serves: RpcHandlers[];
  /** @default a logger that drops everything */
  log?: HubLog;
  /**
   * Messages queued for one replica (not yet written to its pipe) before the hub warns that
   * it is not keeping up. Nothing is dropped or blocked. @default 1000
   */
  backlogWarning?: number;
}

interface Replica {
  name: string;
  channel: IpcChannel;
  /**
   * topic (and group) → subscribe messages not yet matched by an unsubscribe (several IpcBus
   * may share a channel)
   */
  topics: Map<string, { topic: string; group: string | undefined; count: number }>;
  stopListening: () => void;
  backlogWarned: boolean;
}

const SILENT: HubLog = { warn() {}, error() {} };

/** A handler as the hub holds it: the method's types were checked where the handler was written. */
type AnyHandler = (caller: string, ...args: unknown[]) => Promise<unknown>;

export class IpcHub {
  /** The bus for supervisor-side code: it publishes to, and hears from, every replica. */
  readonly bus: Bus;
  readonly #handlers = new Map<RpcMethod, AnyHandler>();
  readonly #log: HubLog;
  readonly #backlogWarning: number;
  readonly #replicas = new Map<IpcChannel, Replica>();
  readonly #subscribers = new Map<string, Set<Replica>>();
  /** topic → group → its members, and whose turn is next. */
  readonly #groups = new Map<string, Map<string, { members: Replica[]; next: number }>>();
  readonly #local: MemoryBus;

  constructor(options: IpcHubOptions) {
    for (const handlers of options.serves) {
      for (const [method, handler] of Object.entries(handlers) as Array<[RpcMethod, AnyHandler]>) {
        if (this.#handlers.has(method)) throw new InternalError(`two handlers for the IPC method ${method}`);
        this.#handlers.set(method, handler);
      }
    }
    this.#log = options.log ?? SILENT;
    this.#backlogWarning = options.backlogWarning ?? 1000;
    this.#local = new MemoryBus({
      onListenerError: (err, topic) => this.#log.error({ err, topic }, 'event listener failed'),
    });
    this.bus = {
      start: async () => {},
      stop: () => this.#local.stop(),
      publish: async (topic, payload, trace) => this.#route(topic, payload, trace),
      subscribe: (topic: string, handler: EventHandler) => this.#local.subscribe(topic, handler),
      unsubscribe: (topic: string, handler: EventHandler) => this.#local.unsubscribe(topic, handler),
    };
  }

  /** Serves one replica's channel until the returned function runs or the channel closes. */
  attach(name: string, channel: IpcChannel): () => void {
    if (this.#replicas.has(channel)) throw new InternalError(`the channel of ${name} is already attached`);
    const replica: Replica = { name, channel, topics: new Map(), stopListening: () => {}, backlogWarned: false };
    this.#replicas.set(channel, replica);
    const stopMessages = channel.onMessage((message) => this.#onMessage(replica, message));
    const stopClose = channel.onClose(() => this.#detach(replica));
    replica.stopListening = () => {
      stopMessages();
      stopClose();
    };
    return () => this.#detach(replica);
  }

  /** Detaches every replica and drops local subscribers; the store and lock stay the caller's. */
  async stop(): Promise<void> {
    for (const replica of [...this.#replicas.values()]) this.#detach(replica);
    await this.#local.stop();
  }

  #onMessage(replica: Replica, message: unknown): void {
    if (!isIpcMessage(message)) return;
    switch (message.type) {
      case 'request':
        void this.#answer(replica, message);
        return;
      case 'subscribe':
        return this.#subscribe(replica, message.topic, message.group, +1);
      case 'unsubscribe':
        this.#subscribe(replica, message.topic, message.group, -1);
        // A group member leaving keeps its handlers until this arrives: events already sent
        // its way are still heard, none is lost between the two.
        if (message.group !== undefined) {
          this.#send(replica, {
            cleave: PROTOCOL_VERSION,
            type: 'unsubscribed',
            topic: message.topic,
            group: message.group,
          });
        }
        return;
      case 'publish':
        return this.#route(message.topic, message.payload, message.trace);
      default:
      // Responses and events only flow from the hub; a replica sending one is ignored.
    }
  }

  #subscribe(replica: Replica, topic: string, group: string | undefined, change: 1 | -1): void {
    const key = subscriptionKey(topic, group);
    const count = (replica.topics.get(key)?.count ?? 0) + change;
    if (count <= 0) {
      replica.topics.delete(key);
      return this.#forget(replica, topic, group);
    }
    replica.topics.set(key, { topic, group, count });
    if (group === undefined) {
      let subscribers = this.#subscribers.get(topic);
      if (subscribers === undefined) this.#subscribers.set(topic, (subscribers = new Set()));
      subscribers.add(replica);
      return;
    }
    let groups = this.#groups.get(topic);
    if (groups === undefined) {
      groups = new Map<string, { members: Replica[]; next: number }>();
      this.#groups.set(topic, groups);
    }
    let members = groups.get(group);
    if (members === undefined) groups.set(group, (members = { members: [], next: 0 }));
    if (!members.members.includes(replica)) members.members.push(replica);
  }

  #forget(replica: Replica, topic: string, group: string | undefined): void {
    if (group === undefined) {
      const subscribers = this.#subscribers.get(topic);
      subscribers?.delete(replica);
      if (subscribers?.size === 0) this.#subscribers.delete(topic);
      return;
    }
    const groups = this.#groups.get(topic);
    const members = groups?.get(group);
    if (!groups || !members) return;
    members.members = members.members.filter((member) => member !== replica);
    if (members.members.length === 0) groups.delete(group);
    if (groups.size === 0) this.#groups.delete(topic);
  }

  #route(topic: string, payload: unknown, trace: TraceCarrier | undefined): void {
    const event: EventMessage = { cleave: PROTOCOL_VERSION, type: 'event', topic, payload };
    if (trace !== undefined) event.trace = trace;
    for (const replica of this.#subscribers.get(topic) ?? []) this.#send(replica, event);
    for (const [group, members] of this.#groups.get(topic) ?? []) {
      // In turn, skipping a member whose channel closed before its detach was seen.
      for (let tries = 0; tries < members.members.length; tries++) {
        const member = members.members[members.next++ % members.members.length] as Replica;
        if (member.channel.closed) continue;
        this.#send(member, { ...event, group });
        break;
      }
    }
    void this.#local.publish(topic, payload, trace);
  }

  async #answer(replica: Replica, request: RpcRequest): Promise<void> {
    const { id, method } = request;
    let response: RpcResponse;
    try {
      const handler = this.#handlers.get(method);
      if (!handler) throw new InternalError(`this supervisor serves no IPC method ${String(method)}`);
      const value = await handler(replica.name, ...request.args);
      response = { cleave: PROTOCOL_VERSION, type: 'response', id, ok: true, value };
    } catch (err) {
      // toWire hides a foreign error's message from the replica, so it is logged here.
      if (!(err instanceof CleaveError)) this.#log.error({ err, replica: replica.name, method }, 'IPC call failed');
      response = { cleave: PROTOCOL_VERSION, type: 'response', id, ok: false, error: toWire(err) };
    }
    if (!this.#send(replica, response) && response.ok) {
      const error = toWire(new InternalError(`the result of ${method} cannot cross the IPC channel`));
      this.#send(replica, { cleave: PROTOCOL_VERSION, type: 'response', id, ok: false, error });
    }
  }

  /** False when the message could not be serialised; a closed channel drops it (detach follows). */
  #send(replica: Replica, message: IpcMessage): boolean {
    try {
      replica.channel.send(message);
    } catch (err) {
      this.#log.error({ err, replica: replica.name, type: message.type }, 'IPC message cannot be serialised');
      return false;
    }
    const backlog = replica.channel.backlog;
    if (!replica.backlogWarned && backlog >= this.#backlogWarning) {
      replica.backlogWarned = true;
      this.#log.warn({ replica: replica.name, backlog }, 'replica is not keeping up; its messages queue in memory');
    } else if (replica.backlogWarned && backlog < this.#backlogWarning / 2) {
      replica.backlogWarned = false;
    }
    return true;
  }

  #detach(replica: Replica): void {
    if (this.#replicas.get(replica.channel) !== replica) return;
    this.#replicas.delete(replica.channel);
    replica.stopListening();
    for (const { topic, group } of replica.topics.values()) this.#forget(replica, topic, group);
    replica.topics.clear();
  }
}
