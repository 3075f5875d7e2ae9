// One normalisation of request targets, shared by every place that routes on a
// path (the runtime today, the gateway when split), so no two parts of cleave
// can disagree on which route a request means.

import { BadRequestError } from '../errors.ts';

export interface NormalizedTarget {
  /** Starts with '/', no dot segments, no repeated slashes, percent-encoding canonical. */
  path: string;
  /** The raw query string without '?', '' when absent. */
  search: string;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
// Bytes no legitimate path carries: controls, space, backslash (a separator on
// some back ends), and the characters HTTP reserves for other parts of a URL.
const FORBIDDEN = /[\x00-\x20\x7f\\<>"{}|^`]/;

/**
 * Normalises an origin-form request target (RFC 9112 §3.2.1). Rejects
 * absolute-form and authority-form targets, malformed or NUL percent-escapes,
 * encoded backslashes and dot segments that would climb above the root.
 */
export function normalizeTarget(target: string): NormalizedTarget {
  if (!target.startsWith('/')) throw new BadRequestError('request target must be a path starting with "/"');
  const queryAt = target.indexOf('?');
  const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
  const search = queryAt < 0 ? '' : target.slice(queryAt + 1);
  if (FORBIDDEN.test(rawPath)) throw new BadRequestError('request path contains a forbidden character');

  const segments: string[] = [];
  const parts = rawPath.split('/');
  for (let i = 1; i < parts.length; i++) {
    const segment = canonicalEscapes(parts[i] as string);
    if (segment === '' && i < parts.length - 1) continue; // '//' collapses
    if (segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) throw new BadRequestError('request path climbs above the root');
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  // A trailing '.' or '..' still means "the folder": keep the trailing slash.
  const last = parts[parts.length - 1];
  const trailingSlash = parts.length > 1 && (last === '' || last === '.' || last === '..');
  let path = `/${segments.join('/')}`;
  if (trailingSlash && path !== '/' && !path.endsWith('/')) path += '/';
  return { path, search };
}

/** Decodes escapes of unreserved characters and upper-cases the rest (RFC 3986 §6.2.2). */
function canonicalEscapes(segment: string): string {
  if (!segment.includes('%')) return segment;
  return segment.replace(/%([0-9A-Fa-f]{2})|%/g, (match, hex: string | undefined) => {
    if (hex === undefined) throw new BadRequestError('request path has a malformed percent-escape');
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    if (char === '\x00') throw new BadRequestError('request path contains an encoded NUL');
    if (char === '\\') throw new BadRequestError('request path contains an encoded backslash');
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}
