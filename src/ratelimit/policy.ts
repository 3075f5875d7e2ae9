// What an app says about rate limits, and how one route's policy is settled: the route's own
// option, else the app's default, with the environment over both (12-factor: a load test sets
// CLEAVE_RATE_LIMIT=off, an operator tightens CLEAVE_RATE_LIMIT_ANONYMOUS=60/60).

import { ConfigError } from '../errors.ts';

export interface Limit {
  requests: number;
  perSeconds: number;
}

export interface BruteForceOptions {
  /** The JSON body field that names the account. @default 'username' */
  usernameField?: string;
  /** Failed attempts in a row allowed before a block, per IP and per username. @default 5 */
  freeRetries?: number;
  /** The first block; each further failure doubles it. @default 1 */
  blockSeconds?: number;
  /** Blocks never last longer. @default 900 */
  maxBlockSeconds?: number;
}

export interface RateLimitOptions {
  /** Clients with no session or token, counted by IP. */
  anonymous?: Limit;
  /** Signed-in users, counted by user id: usually a higher tier. */
  authenticated?: Limit;
  /**
   * For login routes: an answer of 401 is a failure. Failures in a row are counted per client
   * IP, per username from that IP, and per username from anywhere; past `freeRetries` (ten
   * times as many for the username from anywhere, so an attack from one address can't lock
   * the owner out from another) the key is blocked, twice as long at each further failure.
   * A success resets the username's counts.
   */
  bruteForce?: BruteForceOptions | true;
}

export interface SettledPolicy {
  /** `POST /api/login`: where brute-force counts live. */
  route: string;
  /** Where the tiers' counts live: the route's own, or the app's shared one. */
  scope: string;
  anonymous: Limit | undefined;
  authenticated: Limit | undefined;
  bruteForce: Required<BruteForceOptions> | undefined;
}

export interface RateLimitEnv {
  CLEAVE_RATE_LIMIT: boolean;
  CLEAVE_RATE_LIMIT_ANONYMOUS: string | undefined;
  CLEAVE_RATE_LIMIT_AUTHENTICATED: string | undefined;
}

/** `"300/60"` → 300 requests per 60 s. */
export function parseLimit(variable: string, raw: string | undefined): Limit | undefined {
  if (raw === undefined || raw === '') return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const requests = Number(match?.[1]);
  const perSeconds = Number(match?.[2]);
  if (!match || requests < 1 || perSeconds < 1) {
    throw new ConfigError(variable, `must be <requests>/<seconds>, e.g. 300/60, got "${raw}"`);
  }
  return { requests, perSeconds };
}

/** Throws ConfigError for a malformed override: at start-up, not at the first request. */
export function checkRateLimitEnv(env: RateLimitEnv): void {
  parseLimit('CLEAVE_RATE_LIMIT_ANONYMOUS', env.CLEAVE_RATE_LIMIT_ANONYMOUS);
  parseLimit('CLEAVE_RATE_LIMIT_AUTHENTICATED', env.CLEAVE_RATE_LIMIT_AUTHENTICATED);
}

export function settlePolicy(
  routeKey: string,
  route: RateLimitOptions | false | undefined,
  app: RateLimitOptions | undefined,
  env: RateLimitEnv,
): SettledPolicy | undefined {
  if (!env.CLEAVE_RATE_LIMIT || route === false) return undefined;
  const own = route !== undefined && (route.anonymous !== undefined || route.authenticated !== undefined);
  const tiers = own ? route : app;
  const anonymous = own
    ? tiers?.anonymous
    : (parseLimit('CLEAVE_RATE_LIMIT_ANONYMOUS', env.CLEAVE_RATE_LIMIT_ANONYMOUS) ?? tiers?.anonymous);
  const authenticated = own
    ? tiers?.authenticated
    : (parseLimit('CLEAVE_RATE_LIMIT_AUTHENTICATED', env.CLEAVE_RATE_LIMIT_AUTHENTICATED) ?? tiers?.authenticated);
  const brute = route?.bruteForce === true ? {} : route?.bruteForce;
  const bruteForce = brute && {
    usernameField: brute.usernameField ?? 'username',
    freeRetries: brute.freeRetries ?? 5,
    blockSeconds: brute.blockSeconds ?? 1,
    maxBlockSeconds: brute.maxBlockSeconds ?? 900,
  };
  if (!anonymous && !authenticated && !bruteForce) return undefined;
  return { route: routeKey, scope: own ? routeKey : 'app', anonymous, authenticated, bruteForce };
}
