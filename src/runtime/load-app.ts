// Finds and imports a user's app: a folder holding app.ts (or app.js) whose
// default export is defineApp(...).

import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type App, isApp } from '../app/app.ts';
import { AppDefinitionError } from '../errors.ts';
import { importModule, type TypeScriptSetting } from './typescript.ts';

const CANDIDATES = ['app.ts', 'app.mts', 'app.js', 'app.mjs'];

export interface LoadedApp {
  app: App;
  /** Absolute path of the module, for task workers to import. */
  modulePath: string;
}

export async function loadApp(target: string, typescript: TypeScriptSetting = 'auto'): Promise<LoadedApp> {
  const full = resolve(target);
  if (!existsSync(full)) throw new AppDefinitionError(`no app at ${target}: the path does not exist`);
  const modulePath = statSync(full).isDirectory()
    ? CANDIDATES.map((name) => join(full, name)).find((candidate) => existsSync(candidate))
    : full;
  if (!modulePath) throw new AppDefinitionError(`no app in ${target}: expected one of ${CANDIDATES.join(', ')}`);
  const module = (await importModule(modulePath, typescript)) as { default?: unknown };
  if (!isApp(module.default)) {
    throw new AppDefinitionError(`${modulePath} must export an app as default: export default defineApp({ ... })`);
  }
  return { app: module.default, modulePath };
}
