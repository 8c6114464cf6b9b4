import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import base from './vitest.config.js';

// StrykerJS (stryker.config.mjs) runs the tests through Vitest's API, which cannot be
// told `--project unit`: this config is the `unit` project of vitest.config.ts alone,
// so a mutation run never reaches for a cluster (no integration/drills/e2e globalSetup).
const projects = (base.test?.projects ?? []) as TestProjectInlineConfiguration[];
const unit = projects.find((p) => p.test?.name === 'unit');
if (!unit) throw new Error('vitest.config.ts has no project named "unit"');

export default defineConfig(unit);
