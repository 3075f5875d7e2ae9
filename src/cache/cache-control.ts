// Cache-Control, read the way a shared cache must (RFC 9111 §5.2): the directives that decide
// whether a response may be stored here and for how long. Unknown directives are ignored, and
// a malformed number counts as absent, never as zero or forever.

export interface CacheDirectives {
  maxAge?: number;
  sMaxAge?: number;
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
}

export function parseCacheControl(value: string | string[] | number | undefined): CacheDirectives {
  const directives: CacheDirectives = { noStore: false, noCache: false, private: false, public: false };
  if (value === undefined) return directives;
  const text = Array.isArray(value) ? value.join(',') : String(value);
  for (const part of text.split(',')) {
    const equals = part.indexOf('=');
    const name = (equals < 0 ? part : part.slice(0, equals)).trim().toLowerCase();
    const argument = equals < 0 ? undefined : part.slice(equals + 1).trim();
    switch (name) {
      case 'max-age':
        directives.maxAge = secondsOf(argument);
        break;
      case 's-maxage':
        directives.sMaxAge = secondsOf(argument);
        break;
      case 'no-store':
        directives.noStore = true;
        break;
      // `no-cache="set-cookie"` (field names) is read as plain no-cache: stricter, never wrong.
      case 'no-cache':
        directives.noCache = true;
        break;
      case 'private':
        directives.private = true;
        break;
      case 'public':
        directives.public = true;
        break;
      default:
    }
  }
  return directives;
}

/** delta-seconds (RFC 9111 §1.2.2): digits only, quoted form tolerated. */
function secondsOf(argument: string | undefined): number | undefined {
  if (argument === undefined) return undefined;
  const digits = argument.startsWith('"') && argument.endsWith('"') ? argument.slice(1, -1) : argument;
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
}
