// The rate-limit stage of the request pipeline (the monolith's, and each split replica's,
// whose counters live at the supervisor). A route's tier is counted per client IP when
// anonymous and per user when signed in, and every limited response says where it stands
// (X-RateLimit-Limit / -Remaining / -Reset, the reset in seconds); over the limit, 429 with
// Retry-After. A login route's brute-force guard counts 401s per IP and per username and
// blocks past its free retries, twice as long at each further failure.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app/app.ts';
import type { User } from '../app/context.ts';
import type { RouteDefinition } from '../app/route.ts';
import { RateLimitedError } from '../errors.ts';
import type { TrustedProxies } from '../gateway/forwarded.ts';
import { checkRateLimitEnv, type RateLimitEnv, type SettledPolicy, settlePolicy } from '../ratelimit/policy.ts';
import type { RateCounters } from '../ratelimit/types.ts';
import { clientIp } from './client-ip.ts';

/** Failures are remembered this long: "in a row" means within a day. */
const FAILURE_MEMORY_MS = 24 * 3600 * 1000;

export interface RateLimiterOptions {
  app: App;
  counters: RateCounters;
  trustedProxies: TrustedProxies;
  env: RateLimitEnv;
}

/** A login route's guard for one request: check the name once the body is read, then record the outcome. */
export interface LoginGuard {
  check(body: unknown): Promise<void>;
  record(status: number): Promise<void>;
}

export class RateLimiter {
  readonly #options: RateLimiterOptions;
  readonly #policies = new Map<RouteDefinition, SettledPolicy | undefined>();

  constructor(options: RateLimiterOptions) {
    this.#options = options;
    // A malformed override stops the start, not the first request.
    checkRateLimitEnv(options.env);
  }

  /** Whether the route is limited at all: when not, the pipeline skips the stage (no await). */
  applies(route: RouteDefinition): boolean {
    return this.#policyOf(route) !== undefined;
  }

  /**
   * Counts the request against its route's tier, sets the X-RateLimit-* headers, and throws
   * RateLimitedError past the limit. Returns the login guard when the route has one.
   */
  async admit(
    req: IncomingMessage,
    res: ServerResponse,
    route: RouteDefinition,
    user: User | undefined,
  ): Promise<LoginGuard | undefined> {
    const policy = this.#policyOf(route);
    if (!policy) return undefined;
    const ip = clientIp(req, this.#options.trustedProxies);
    const tier = user ? policy.authenticated : policy.anonymous;
    if (tier) {
      const key = `rl:${policy.scope}:${user ? `user:${user.id}` : `ip:${ip}`}`;
      const { consumed, msBeforeNext } = await this.#options.counters.hit(key, 1, tier.perSeconds * 1000);
      const reset = Math.ceil(msBeforeNext / 1000);
      // On the response itself, not the handler's header bag: an error answer keeps them too.
      res.setHeader('x-ratelimit-limit', String(tier.requests));
      res.setHeader('x-ratelimit-remaining', String(Math.max(0, tier.requests - consumed)));
      res.setHeader('x-ratelimit-reset', String(reset));
      if (consumed > tier.requests) {
        throw new RateLimitedError(
          `rate limit of ${tier.requests} requests per ${tier.perSeconds} s reached; retry in ${reset} s`,
          reset,
          tier.requests,
        );
      }
    }
    return policy.bruteForce ? this.#guard(policy, ip) : undefined;
  }

  #guard(policy: SettledPolicy, ip: string): LoginGuard {
    const options = policy.bruteForce as NonNullable<SettledPolicy['bruteForce']>;
    const counters = this.#options.counters;
    const base = `bf:${policy.route}`;
    /** Each key with the failures it allows in a row. */
    const keys = (name: string | undefined): Array<[key: string, free: number]> => [
      [`${base}:ip:${ip}`, options.freeRetries],
      ...(name === undefined
        ? []
        : ([
            [`${base}:user:${name}:ip:${ip}`, options.freeRetries],
            [`${base}:user:${name}`, options.freeRetries * 10],
          ] as Array<[string, number]>)),
    ];
    let name: string | undefined;
    return {
      async check(body) {
        const field = (body as Record<string, unknown> | undefined)?.[options.usernameField];
        name = typeof field === 'string' ? field.trim().toLowerCase() : undefined;
        for (const [key] of keys(name)) {
          const blockedMs = await counters.blockedFor(key);
          if (blockedMs > 0) {
            const seconds = Math.ceil(blockedMs / 1000);
            throw new RateLimitedError(`too many failed attempts; retry in ${seconds} s`, seconds, options.freeRetries);
          }
        }
      },
      async record(status) {
        if (status === 401) {
          for (const [key, free] of keys(name)) {
            const { consumed } = await counters.hit(`${key}:fails`, 1, FAILURE_MEMORY_MS);
            const over = consumed - free;
            if (over > 0) {
              const seconds = Math.min(options.maxBlockSeconds, options.blockSeconds * 2 ** (over - 1));
              await counters.block(key, seconds * 1000);
            }
          }
        } else if (status < 400 && name !== undefined) {
          await counters.reset(`${base}:user:${name}:ip:${ip}:fails`, FAILURE_MEMORY_MS);
          await counters.reset(`${base}:user:${name}:fails`, FAILURE_MEMORY_MS);
        }
      },
    };
  }

  #policyOf(route: RouteDefinition): SettledPolicy | undefined {
    if (!this.#policies.has(route)) {
      const key = `${route.method} ${route.path}`;
      this.#policies.set(
        route,
        settlePolicy(key, route.options.rateLimit, this.#options.app.rateLimit, this.#options.env),
      );
    }
    return this.#policies.get(route);
  }
}
