// Sessions and bearer tokens are the same signed JWT (HS256, jose): the login
// route gets a token to hand to API clients, and the browser gets it in an
// HttpOnly cookie. Either way the request ends up with ctx.user.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { importOnUse } from '../shared/load-on-use.ts';
import type { User } from '../app/context.ts';
import { ConfigError } from '../errors.ts';

// Loaded by the first request that carries a token, or the first login.
const jose = importOnUse(() => import('jose'));

export const SESSION_COOKIE = 'cleave_session';
const ISSUER = 'cleave';
const DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600;

export interface AuthOptions {
  /** At least 32 characters. Unset: a random one per start, so sessions end on restart. */
  secret?: string;
  /** Mark the cookie Secure (set when served over TLS). @default false */
  secureCookie?: boolean;
}

export class Authenticator {
  readonly ephemeral: boolean;
  private readonly key: Uint8Array;
  private readonly secureCookie: boolean;

  constructor(options: AuthOptions = {}) {
    if (options.secret !== undefined && options.secret.length < 32) {
      throw new ConfigError('CLEAVE_SECRET', 'must be at least 32 characters');
    }
    this.ephemeral = options.secret === undefined;
    this.key = options.secret === undefined ? randomBytes(32) : new TextEncoder().encode(options.secret);
    this.secureCookie = options.secureCookie ?? false;
  }

  async sign(user: User, maxAgeSeconds = DEFAULT_MAX_AGE_SECONDS): Promise<string> {
    const { id, ...claims } = user;
    const { SignJWT } = await jose();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(id)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${maxAgeSeconds}s`)
      .sign(this.key);
  }

  /** The user behind a valid token, undefined for a missing, expired or forged one. */
  async verify(token: string): Promise<User | undefined> {
    const { jwtVerify } = await jose();
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string') return undefined;
      const { sub, iss: _iss, iat: _iat, exp: _exp, ...claims } = payload;
      return { ...claims, id: sub };
    } catch {
      return undefined;
    }
  }

  /** Bearer header first (API clients), then the session cookie (browsers). */
  tokenOf(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
    const cookies = req.headers.cookie;
    return cookies ? parseCookies(cookies)[SESSION_COOKIE] : undefined;
  }

  sessionCookie(token: string, maxAgeSeconds = DEFAULT_MAX_AGE_SECONDS): string {
    return serializeCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure: this.secureCookie,
      maxAge: maxAgeSeconds,
    });
  }

  clearedCookie(): string {
    return serializeCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 0 });
  }
}
