// Typed configuration read from the environment once, at start. A wrong value
// stops the start with one line naming the variable (12-factor: config in env).

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ConfigError } from '../errors.ts';

export type ConfigSpec = Record<string, StandardSchemaV1>;
export type ConfigValues<S extends ConfigSpec> = { readonly [K in keyof S]: StandardSchemaV1.InferOutput<S[K]> };

export interface Config<S extends ConfigSpec> {
  readonly spec: S;
  /** The validated values; throws if read before the app has loaded its config. */
  readonly values: ConfigValues<S>;
  /** Validates `source` against the spec; throws ConfigError naming the first bad variable. */
  load(source?: NodeJS.ProcessEnv): ConfigValues<S>;
}

/**
 * Declares the variables an app reads. Import the result where a value is
 * needed (`config.values.PAGE_SIZE`), so types flow without a ctx generic.
 */
export function defineConfig<S extends ConfigSpec>(spec: S): Config<S> {
  let loaded: ConfigValues<S> | undefined;
  const config: Config<S> = {
    spec,
    get values(): ConfigValues<S> {
      if (!loaded) loaded = loadConfig(spec, process.env);
      return loaded;
    },
    load(source = process.env) {
      loaded = loadConfig(spec, source);
      return loaded;
    },
  };
  return config;
}

export function loadConfig<S extends ConfigSpec>(spec: S, source: NodeJS.ProcessEnv): ConfigValues<S> {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(spec)) {
    const result = schema['~standard'].validate(source[name]);
    if (result instanceof Promise)
      throw new ConfigError(name, 'uses an async schema; config schemas must be synchronous');
    if (result.issues) throw new ConfigError(name, result.issues.map((issue) => issue.message).join('; '));
    values[name] = result.value;
  }
  return values as ConfigValues<S>;
}

export function isConfig(value: unknown): value is Config<ConfigSpec> {
  return typeof value === 'object' && value !== null && 'spec' in value && 'load' in value;
}
