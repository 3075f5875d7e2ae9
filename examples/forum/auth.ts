// Accounts: sign-up, login (session cookie + bearer token) and "who am I".
// Password hashing is scrypt, run as a task so a login storm burns worker
// threads, not the event loop that serves everyone else.

import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import { defineService, HttpError, reply, StoreConflictError } from 'cleave';
import { z } from 'zod';

export const auth = defineService('auth');

interface Account {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: string;
}

/** What other services may know of a user: never the password hash. */
const Profile = z.object({ id: z.string(), username: z.string(), joinedAt: z.string() });
type Profile = z.infer<typeof Profile>;

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 };

export const hashPassword = auth.task('hash', (password: string): string => {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, SCRYPT.keyLength, SCRYPT);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
});

export const verifyPassword = auth.task('verify', (input: { password: string; stored: string }): boolean => {
  const [scheme, salt, expected] = input.stored.split('$');
  if (scheme !== 'scrypt' || !salt || !expected) return false;
  const actual = scryptSync(input.password, Buffer.from(salt, 'base64'), SCRYPT.keyLength, SCRYPT);
  return timingSafeEqual(actual, Buffer.from(expected, 'base64'));
});

/** Today's policy for a new account. */
const NewAccount = z.object({
  username: z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, '3-32 letters, digits, "_" or "-"'),
  password: z.string().min(8, 'at least 8 characters').max(200),
});

/**
 * What a login may send: not the sign-up policy, which an account made under an older one
 * may not meet (it would be locked out), and under which a short guess would be a 400 that
 * the brute-force guard never counts. Only bounds: no megabytes for scrypt, and no name the
 * store could never hold as a key (control characters).
 */
const Credentials = z.object({
  username: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'no control characters'),
  password: z.string().min(1).max(1024),
});

// A hash of a password nobody has, so an unknown username costs as much as a
// wrong password and response time doesn't reveal which names exist.
let decoyHash: Promise<string> | undefined;

auth.post('/api/signup', { body: NewAccount }, async (ctx) => {
  const { username, password } = ctx.body;
  const account: Account = {
    id: randomUUID(),
    username,
    passwordHash: await ctx.run(hashPassword, password),
    createdAt: new Date().toISOString(),
  };
  try {
    // ifVersion 0: create only, so two sign-ups racing for one name can't both win.
    await ctx.store<Account>('accounts').put(username.toLowerCase(), account, { ifVersion: 0 });
    await ctx.store<Profile>('profiles').put(account.id, {
      id: account.id,
      username,
      joinedAt: account.createdAt,
    });
  } catch (error) {
    if (error instanceof StoreConflictError) throw new HttpError(409, 'USERNAME_TAKEN', `"${username}" is taken`);
    throw error;
  }
  await ctx.emit('user.created', { id: account.id, username });
  return reply.json({ id: account.id, username }, { status: 201 });
});

// Brute-force guard: after 5 wrong passwords in a row from one address (or for one name from
// that address) the next attempts are refused with 429 for 1 s, then 2, 4… up to 15 min.
auth.post('/api/login', { body: Credentials, rateLimit: { bruteForce: true } }, async (ctx) => {
  const { username, password } = ctx.body;
  const record = await ctx.store<Account>('accounts').get(username.toLowerCase());
  decoyHash ??= ctx.run(hashPassword, randomUUID());
  const stored = record?.value.passwordHash ?? (await decoyHash);
  const valid = await ctx.run(verifyPassword, { password, stored });
  if (!record || !valid) throw new HttpError(401, 'BAD_CREDENTIALS', 'wrong username or password');
  const user = { id: record.value.id, username: record.value.username };
  const token = await ctx.signIn({ id: user.id, name: user.username });
  return { token, user };
});

// Other services ask for a user's public profile by calling this action (posts does, for a
// post's author): a function call together, a call to an auth replica when split. The
// accounts stay auth's own data.
export const publicProfile = auth.action(
  'profile',
  { input: z.object({ id: z.string() }), output: Profile, idempotent: true },
  async ({ id }, ctx) => {
    const profile = await ctx.store<Profile>('profiles').get(id);
    if (!profile) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${id}`);
    return profile.value;
  },
);

auth.post('/api/logout', (ctx) => {
  ctx.signOut();
  return reply.status(204);
});

auth.get('/api/me', { auth: true }, (ctx) => ({ id: ctx.user?.id, username: ctx.user?.name }));
