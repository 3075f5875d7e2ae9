// How TypeScript gets loaded: the user's app, and cleave's own modules when cleave runs from
// its source (its own tests) rather than from the JavaScript it is built to (dist/).
//
// Start-up time is the reason this is a decision at all. tsx's module hooks cost every
// process a few hundred ms (measured: importing the runtime takes 0.42 s without them and
// 0.78 s with them registered, on Node 20), and a split app starts a process per replica.
// So built cleave registers no loader for itself, an app in JavaScript gets none either,
// and a TypeScript app is run by Node's own type stripping (Node 22.18+, 24) when it is
// written for it, else by tsx, registered only then.

import { dirname, extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadOnUse } from '../shared/load-on-use.ts';

const getTsconfig = loadOnUse<typeof import('get-tsconfig')>('get-tsconfig');

/** Who turns a TypeScript file into JavaScript: Node itself, or tsx's hooks. */
export type TypeScriptLoader = 'node' | 'tsx';

/** `auto` picks per app (loaderFor); the others force one. */
export type TypeScriptSetting = 'auto' | TypeScriptLoader;

/** The condition under which `import 'cleave'` means cleave's source (package.json exports). */
export const SOURCE_CONDITION = 'cleave-source';

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/** True in a checkout run from src/, false in cleave as built (and as installed). */
export const runningFromSource = TYPESCRIPT_EXTENSIONS.has(extname(fileURLToPath(import.meta.url)));

/** Node strips types itself (22.18+ and 24 by default; 22.6+ behind a flag). */
function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/**
 * The loader a module needs: none for JavaScript; for TypeScript, Node's own when Node has
 * type stripping and the project says its code runs as Node strips it, i.e. its tsconfig
 * sets `erasableSyntaxOnly` (no enums, namespaces or parameter properties: the compiler
 * refuses them) and imports files by their `.ts` names (`allowImportingTsExtensions` or
 * `rewriteRelativeImportExtensions`); tsx for any other TypeScript, which it all loads.
 */
export function loaderFor(modulePath: string, setting: TypeScriptSetting = 'auto'): TypeScriptLoader | undefined {
  if (!TYPESCRIPT_EXTENSIONS.has(extname(modulePath))) return undefined;
  if (setting !== 'auto') return setting;
  if (!nodeStripsTypes()) return 'tsx';
  const options = getTsconfig().getTsconfig(dirname(modulePath))?.config.compilerOptions;
  const writtenForNode =
    options?.erasableSyntaxOnly === true &&
    (options.allowImportingTsExtensions === true || options.rewriteRelativeImportExtensions === true);
  return writtenForNode ? 'node' : 'tsx';
}

let tsxRegistered: Promise<void> | undefined;

/** Installs tsx's hooks in this thread, once. */
export function registerTsx(): Promise<void> {
  tsxRegistered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return tsxRegistered;
}

/** Imports a module of the user's (the app), with the loader it needs. */
export async function importModule(modulePath: string, setting: TypeScriptSetting = 'auto'): Promise<unknown> {
  if (loaderFor(modulePath, setting) === 'tsx') await registerTsx();
  return import(pathToFileURL(modulePath).href);
}

/**
 * The path of one of cleave's own modules beside `base` (an import.meta.url), named without
 * its extension: `.ts` when running from source, `.js` when built.
 */
export function ownModule(base: string, relative: string): string {
  return fileURLToPath(new URL(`${relative}${extname(fileURLToPath(base))}`, base));
}

/**
 * Node flags for a process or thread that runs cleave's own modules as this one does: none
 * when built; from source, `import 'cleave'` must mean the source too (one copy of each
 * class in a process), and Node must read TypeScript: by itself where it can (cleave's
 * source is erasable), else through tsx.
 */
export function ownExecArgv(): string[] {
  if (!runningFromSource) return [];
  const conditions = `--conditions=${SOURCE_CONDITION}`;
  return nodeStripsTypes() ? [conditions] : [conditions, '--import', import.meta.resolve('tsx')];
}
