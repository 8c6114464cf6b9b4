#!/usr/bin/env node
// Entry point for `npx backendapp-operator`. A compiled build (dist/) is used when
// present (the container image); otherwise the TypeScript sources run through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
