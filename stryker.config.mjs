// Mutation testing of the unit suite (StrykerJS). Run with `npm run test:mutation`
// (on a shared machine: `nice -n 10 npm run test:mutation`); summary per folder:
// `npx tsx scripts/mutation-summary.ts`. Not part of `npm test`.
//
// Why these settings:
// - StrykerJS 9.6.1, not 10.x: Stryker 10 refuses to start on Node < 22 and this
//   project runs on Node 20; @stryker-mutator/tap-runner pins its core version
//   exactly, so core and runner must move together.
// - testRunner "tap": node:test emits TAP, and the tap runner starts one `node`
//   process per test file with Stryker's hook preloaded, so each mutant only runs
//   the test files that executed its code ("perTest" coverage at file
//   granularity). The command runner would run the whole suite for every mutant.
// - Only test/unit: integration tests need the local Kafka/Redis stack and are
//   far too slow to run once per mutant.
// - Lua scripts (src/state/lua, src/ops/lua) are not mutated: Stryker only
//   mutates JavaScript/TypeScript.
// - No @stryker-mutator/typescript-checker: it works with this tsconfig (it
//   turned 56 of the 139 src/state mutants into CompileError), but it needed
//   8.5 min for those 139 mutants (~3.6 s each: every check re-types the whole
//   program, `tsc --noEmit` alone takes ~10 s), i.e. ~3 h for all ~3,100
//   mutants on this 2-core machine, against minutes for the test runs. Without
//   it such mutants are run and killed/survive (or count as no coverage).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  mutate: ['src/{state,runtime,cdc,ops}/**/*.ts'],
  testRunner: 'tap',
  tap: {
    // Every unit test file but retry.test.ts: it reaches no code under the four
    // mutated folders (only src/retry.ts and src/errors.ts), so it can kill no
    // mutant, and its wall-clock bounds on backoff waits fail on a loaded machine,
    // which aborts the whole run at the initial test run. Put it back if
    // src/retry.ts is ever mutated.
    testFiles: ['test/unit/**/!(retry).test.ts'],
    // `{{hookFile}}` is Stryker's coverage/active-mutant hook (CommonJS, so `-r`);
    // tsx loads the TypeScript sources and tests as `npm run test:unit` does.
    nodeArgs: ['--test-reporter=tap', '--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // Two cores, shared with other work: one test process at a time per worker.
  concurrency: 2,
  // A test file costs ~1 s of tsx start-up; under `nice` on a busy machine
  // that varies a lot, so allow a generous absolute margin before a mutant
  // counts as an infinite loop.
  timeoutMS: 10000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The table only: the mutants themselves are in the HTML and JSON reports.
  clearTextReporter: { allowColor: false, reportMutants: false, reportTests: false, logTests: false },
  // The sandbox needs the sources, tests, fixtures, topologies and configs;
  // nothing the local stack or the benchmarks write.
  ignorePatterns: ['.stack', 'bench', 'helm', 'dist', 'reports', '.ci'],
  tempDirName: '.stryker-tmp',
};
