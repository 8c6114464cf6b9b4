// @ts-check
// Mutation testing: `npm run test:mutation` (not part of `npm test`; a full run takes
// a while on two cores). Reports land in reports/mutation/, the sandbox in .stryker-tmp/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: {
    // The `unit` project only: pure code, no cluster.
    configFile: 'vitest.stryker.config.ts',
  },
  mutate: ['src/api/**/*.ts', 'src/render/**/*.ts', 'src/controller/**/*.ts', 'src/kinds.ts', '!src/**/*.test.ts', '!src/**/*.test-util.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // The machine's two cores are often shared with a cluster drill; a mutant's tests can
  // run several times slower than in the dry run, which must not read as a timeout.
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  // Stryker rewrites the named tsconfig's relative paths for its sandbox with the
  // TypeScript JS API, which TypeScript 7 (the native compiler) no longer ships
  // ("ts.parseConfigFileTextToJson is not a function"). tsconfig.json has no
  // extends/references to rewrite, so point the option at a file that does not exist
  // and the step is skipped; tsconfig.json itself is still copied into the sandbox.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  incrementalFile: 'reports/stryker-incremental.json',
  // Local control-plane state and build output are not needed by the unit tests.
  ignorePatterns: ['.local-cluster', 'dist', 'bench/results'],
};
