// The gateway's errors live in the one catalog (src/errors.ts); re-exported for this folder.

export { UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.ts';
