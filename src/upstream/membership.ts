// Which replicas of each service are ready, as the supervisor tells whoever sends to them:
// the gateway, and a replica whose ctx.call goes straight to another service's replicas. One
// decoder of `replicas` / `replica-up` / `replica-down` for both, so a change to how
// membership is told is made once.

import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION, type ReplicaEntry } from '../ipc/messages.ts';

/** What a membership source tells its watcher. */
export interface MembershipListener {
  /** Ready at `address` (a unix socket path); may repeat for a replica restarted under its id. */
  up(entry: ReplicaEntry): void;
  /** Gone, or going: out of every pick at once. */
  down(service: string, id: string): void;
}

export interface MembershipWatch {
  /** Settles once the whole current set has been told. */
  known: Promise<void>;
  stop: () => void;
}

/** Asks the supervisor on `channel` for every ready replica, then follows each change. */
export function watchReplicas(channel: IpcChannel, listener: MembershipListener): MembershipWatch {
  let stop = () => {};
  const known = new Promise<void>((resolve) => {
    stop = channel.onMessage((message) => {
      if (!isIpcMessage(message)) return;
      switch (message.type) {
        case 'replicas':
          for (const entry of message.replicas) listener.up(entry);
          return resolve();
        case 'replica-up':
          return listener.up({ service: message.service, id: message.id, address: message.address });
        case 'replica-down':
          return listener.down(message.service, message.id);
        default:
      }
    });
  });
  // Asked only once the listener is in place: an answer arriving earlier would be lost.
  channel.send({ cleave: PROTOCOL_VERSION, type: 'watch-replicas' });
  return { known, stop };
}
