// The supervisor folder's face: what split mode's supervisor (and a replica's or the
// gateway's main module, for child-main) builds on. Test doubles stay in fixtures/.

export { RestartBackoff, type RestartBackoffOptions, type RestartDecision } from './backoff.ts';
export {
  ROLE_FLAG,
  exitWithParent,
  roleFromArgv,
  setTitle,
  titleOf,
  type ExitWithParentOptions,
} from './child-main.ts';
export { systemClock, type CancelTimer, type Clock } from './clock.ts';
export { LineSplitter, type LineListener } from './line-splitter.ts';
export { LogRelay, type LogRelayOptions, type LogTags } from './log-relay.ts';
export {
  ManagedProcess,
  type ManagedProcessEvent,
  type ManagedProcessOptions,
  type ManagedProcessState,
} from './managed-process.ts';
export { forkSpawner, type ExitStatus, type ProcessSpawner, type SpawnSpec, type SpawnedProcess } from './spawner.ts';
