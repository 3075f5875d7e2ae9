#!/usr/bin/env node
// cleave as built to JavaScript (dist/, made by `npm run build`, which `npm ci` and
// `npm install` run): no loader for cleave's own code. The app's TypeScript is loaded
// by runtime/typescript.ts.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('cleave: CLEAVE_NOT_BUILT dist/ is missing: run `npm run build` in the cleave package');
  process.exit(1);
}
await import(main.href);
