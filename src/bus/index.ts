// The bus folder's public face: the port and its adapters.

export type { Bus, EventHandler } from './types.ts';
export { MemoryBus, type MemoryBusOptions } from './memory.ts';
export { IpcBus, type IpcBusOptions } from './ipc.ts';
