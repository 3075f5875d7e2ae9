// Small built-in parsers for environment variables. Each is a Standard Schema,
// so an app may mix them with zod or valibot schemas in one ConfigSpec.

import type { StandardSchemaV1 } from '@standard-schema/spec';

type Parse<T> = (raw: string | undefined) => { value: T } | { problem: string };

function schema<T>(parse: Parse<T>): StandardSchemaV1<string | undefined, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'cleave',
      validate(raw) {
        const result = parse(raw as string | undefined);
        return 'problem' in result ? { issues: [{ message: result.problem }] } : { value: result.value };
      },
    },
  };
}

interface Common<T> {
  /** Used when the variable is unset or empty. Without one, the variable is required. */
  default?: T;
}

function withDefault<T>(options: Common<T>, parse: (raw: string) => { value: T } | { problem: string }): Parse<T> {
  return (raw) => {
    if (raw === undefined || raw === '') {
      return options.default === undefined ? { problem: 'is required but not set' } : { value: options.default };
    }
    return parse(raw);
  };
}

export const env = {
  string(options: Common<string> & { minLength?: number } = {}) {
    return schema(
      withDefault<string>(options, (raw) =>
        options.minLength !== undefined && raw.length < options.minLength
          ? { problem: `must be at least ${options.minLength} characters` }
          : { value: raw },
      ),
    );
  },

  /** An optional string: undefined when unset. */
  optional(options: { minLength?: number } = {}) {
    return schema<string | undefined>((raw) => {
      if (raw === undefined || raw === '') return { value: undefined };
      // Never echo it: it may be a secret.
      if (options.minLength !== undefined && raw.length < options.minLength) {
        return { problem: `must be at least ${options.minLength} characters` };
      }
      return { value: raw };
    });
  },

  int(options: Common<number> & { min?: number; max?: number } = {}) {
    return schema(
      withDefault<number>(options, (raw) => {
        if (!/^-?\d+$/.test(raw.trim())) return { problem: `must be an integer, got "${raw}"` };
        const value = Number(raw);
        if (options.min !== undefined && value < options.min)
          return { problem: `must be >= ${options.min}, got ${value}` };
        if (options.max !== undefined && value > options.max)
          return { problem: `must be <= ${options.max}, got ${value}` };
        return { value };
      }),
    );
  },

  /** An optional integer: undefined when unset. */
  optionalInt(options: { min?: number; max?: number } = {}) {
    const parse = env.int(options)['~standard'];
    return schema<number | undefined>((raw) => {
      if (raw === undefined || raw === '') return { value: undefined };
      const result = parse.validate(raw) as StandardSchemaV1.Result<number>;
      return result.issues ? { problem: result.issues[0]?.message ?? 'invalid' } : { value: result.value };
    });
  },

  port(options: Common<number> = {}) {
    return env.int({ ...options, min: 0, max: 65535 });
  },

  bool(options: Common<boolean> = {}) {
    return schema(
      withDefault<boolean>(options, (raw) => {
        const lower = raw.trim().toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(lower)) return { value: true };
        if (['0', 'false', 'no', 'off'].includes(lower)) return { value: false };
        return { problem: `must be true or false, got "${raw}"` };
      }),
    );
  },

  oneOf<const T extends string>(choices: readonly T[], options: Common<T> = {}) {
    return schema<T>(
      withDefault<T>(options, (raw) =>
        (choices as readonly string[]).includes(raw)
          ? { value: raw as T }
          : { problem: `must be one of ${choices.join(', ')}, got "${raw}"` },
      ),
    );
  },

  /** One of `choices`, or a URL with one of `protocols` (e.g. a store: `file` or `postgres://…`). */
  choiceOrUrl<const T extends string>(choices: readonly T[], protocols: readonly string[], options: Common<T> = {}) {
    return schema(
      withDefault<string>(options, (raw) => {
        if ((choices as readonly string[]).includes(raw)) return { value: raw };
        if (URL.canParse(raw) && protocols.includes(new URL(raw).protocol)) return { value: raw };
        // Never echo what isn't a choice: it may be a URL with a password in it.
        return { problem: `must be one of ${choices.join(', ')} or a ${protocols.join(' / ')}// URL` };
      }),
    );
  },

  /**
   * A server's URL with one of `protocols`, or undefined when unset (e.g. `redis://…`). With
   * `list`, several comma-separated (the servers of one cluster).
   */
  optionalServerUrl(protocols: readonly string[], options: { list?: boolean } = {}) {
    const valid = (url: string) => URL.canParse(url) && protocols.includes(new URL(url).protocol);
    return schema<string | undefined>((raw) => {
      if (raw === undefined || raw === '') return { value: undefined };
      const urls = options.list ? raw.split(',').map((url) => url.trim()) : [raw];
      if (urls.every(valid)) return { value: raw };
      // Never echo it: it may hold a password.
      return {
        problem: `must be ${options.list ? 'comma-separated' : 'a'} ${protocols.join(' / ')}// URL${options.list ? 's' : ''}`,
      };
    });
  },

  /** An optional name: letters, digits, `.`, `_` and `-`, at most 63 (a host name's label, a pod's name). */
  optionalName() {
    return schema<string | undefined>((raw) => {
      if (raw === undefined || raw.trim() === '') return { value: undefined };
      const name = raw.trim();
      if (!/^[A-Za-z0-9._-]{1,63}$/.test(name))
        return { problem: `must be a name of letters, digits, ".", "_" or "-" (at most 63), got "${name}"` };
      return { value: name };
    });
  },

  /** Comma-separated names (`posts,chat`), or undefined when unset; each a plain word. */
  optionalNames() {
    return schema<string[] | undefined>((raw) => {
      if (raw === undefined || raw.trim() === '') return { value: undefined };
      const names = raw.split(',').map((name) => name.trim());
      const bad = names.find((name) => !/^[A-Za-z0-9_-]+$/.test(name));
      if (bad !== undefined) return { problem: `must be comma-separated names, got "${bad}"` };
      return { value: [...new Set(names)] };
    });
  },

  url(options: Common<string> = {}) {
    return schema(
      withDefault<string>(options, (raw) =>
        URL.canParse(raw) ? { value: raw } : { problem: `must be a URL, got "${raw}"` },
      ),
    );
  },
};
