import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { importModule, loaderFor, ownExecArgv, ownModule, runningFromSource } from './typescript.ts';

const nodeStripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);
const root = mkdtempSync(join(tmpdir(), 'cleave-typescript-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A project folder with this tsconfig and one module; returns the module's path. */
function project(name: string, compilerOptions: object | undefined, file: string, source: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  if (compilerOptions)
    writeFileSync(join(dir, 'tsconfig.json'), `// JSONC, as tsc allows\n${JSON.stringify({ compilerOptions })}\n`);
  writeFileSync(join(dir, file), source);
  return join(dir, file);
}

const WRITTEN_FOR_NODE = { erasableSyntaxOnly: true, allowImportingTsExtensions: true, noEmit: true };

describe('loading TypeScript', () => {
  it('leaves JavaScript alone', () => {
    assert.equal(loaderFor(project('js', undefined, 'app.mjs', 'export default 1;\n')), undefined);
  });

  it("uses Node's type stripping only for an app whose tsconfig says its code runs so, where Node has it", () => {
    const written = project('erasable', WRITTEN_FOR_NODE, 'app.ts', 'export default 1 as number;\n');
    assert.equal(loaderFor(written), nodeStripsTypes ? 'node' : 'tsx');
    const rewriting = project(
      'rewriting',
      { erasableSyntaxOnly: true, rewriteRelativeImportExtensions: true },
      'app.ts',
      '',
    );
    assert.equal(loaderFor(rewriting), nodeStripsTypes ? 'node' : 'tsx');
    // An enum compiles under plain settings and is no type Node can strip.
    assert.equal(loaderFor(project('plain', { strict: true }, 'app.ts', 'enum A { B }\n')), 'tsx');
    assert.equal(loaderFor(project('js-specifiers', { erasableSyntaxOnly: true }, 'app.ts', '')), 'tsx');
    assert.equal(loaderFor(project('none', undefined, 'app.mts', '')), 'tsx');
  });

  it('obeys CLEAVE_TYPESCRIPT over what it would pick', () => {
    const written = project('forced', WRITTEN_FOR_NODE, 'app.ts', '');
    assert.equal(loaderFor(written, 'tsx'), 'tsx');
    assert.equal(loaderFor(join(root, 'plain', 'app.ts'), 'node'), 'node');
  });

  it('imports an app that needs tsx (an enum, a .js specifier naming a .ts file) in a process that has no loader', () => {
    const dir = join(root, 'needs-tsx');
    project('needs-tsx', { strict: true }, 'colour.ts', 'export enum Colour { Red = "red" }\n');
    const app = project(
      'needs-tsx',
      { strict: true },
      'app.ts',
      "import { Colour } from './colour.js';\nexport default Colour.Red;\n",
    );
    // cleave as built (npm test builds it first), so the child starts with no loader at all.
    const typescriptModule = new URL('../../dist/runtime/typescript.js', import.meta.url).href;
    const script = `const { importModule } = await import(${JSON.stringify(typescriptModule)});
      const module = await importModule(${JSON.stringify(app)});
      console.log(module.default);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), 'red');
  });

  it('imports an app written for Node in this process', async () => {
    const app = project('here', WRITTEN_FOR_NODE, 'app.ts', 'const answer: number = 42;\nexport default answer;\n');
    assert.deepEqual(((await importModule(app)) as { default: number }).default, 42);
  });

  it("names cleave's own modules with the extension it runs from, and the flags a child needs to run them", () => {
    assert.equal(runningFromSource, true, 'these tests run cleave from its source');
    assert.match(ownModule(import.meta.url, '../runtime/replica-main'), /src\/runtime\/replica-main\.ts$/);
    assert.ok(ownExecArgv().includes('--conditions=cleave-source'));
    assert.equal(ownExecArgv().includes('--import'), !nodeStripsTypes);
  });
});
