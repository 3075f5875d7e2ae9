#!/usr/bin/env node
// Users write TypeScript and run it as is: tsx's loader is registered before
// anything of cleave or the app is imported.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
