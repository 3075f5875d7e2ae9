// Where every ready replica listens, for the replicas that call other services' actions: a
// replica asks once (`watch-replicas`) on its first call and is then told of each change, as
// the gateway is (gateway-process.ts keeps the gateway's own copy, which also waits for the
// start and tracks drains).

import type { IpcChannel } from '../ipc/channel.ts';
import { PROTOCOL_VERSION, type IpcMessage, type ReplicaEntry } from '../ipc/messages.ts';
import type { ReplicaRegistry } from './service-pool.ts';

export class ReplicaDirectory implements ReplicaRegistry {
  readonly #replicas = new Map<string, ReplicaEntry>();
  readonly #watchers = new Set<IpcChannel>();

  /** Sends `channel` the whole set now, and every change after. */
  watch(channel: IpcChannel): void {
    this.#watchers.add(channel);
    channel.send({ cleave: PROTOCOL_VERSION, type: 'replicas', replicas: [...this.#replicas.values()] });
  }

  ready(service: string, replica: { id: string; socketPath: string }): void {
    const entry: ReplicaEntry = { service, id: replica.id, address: replica.socketPath };
    this.#replicas.set(replica.id, entry);
    this.#tell({ cleave: PROTOCOL_VERSION, type: 'replica-up', ...entry });
  }

  gone(service: string, id: string): void {
    if (!this.#replicas.delete(id)) return;
    this.#tell({ cleave: PROTOCOL_VERSION, type: 'replica-down', service, id });
  }

  /** Callers stop picking it at once; the calls already on it finish as the replica drains. */
  async drain(service: string, id: string): Promise<void> {
    this.gone(service, id);
  }

  #tell(message: IpcMessage): void {
    for (const channel of this.#watchers) {
      if (channel.closed) this.#watchers.delete(channel);
      else channel.send(message);
    }
  }
}
