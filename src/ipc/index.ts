// The ipc folder's public face: what split-mode wiring needs on each side of a fork()
// channel. The replica-side adapters live with their ports and are re-exported here.

export { channelOfChild, channelOfProcess, type IpcChannel, type WrittenCallback } from './channel.ts';
export { PROTOCOL_VERSION, isIpcMessage } from './messages.ts';
export type { IpcMessage, RpcMethod, RpcMethods } from './messages.ts';
export { RpcClient, type RpcClientOptions } from './rpc-client.ts';
export { IpcHub, type HubLog, type IpcHubOptions } from './hub.ts';
export { IpcBus, type IpcBusOptions } from '../bus/ipc.ts';
export { IpcStore } from '../store/ipc.ts';
export { IpcLock } from '../lock/ipc.ts';
