/**
 * `npm run test:faults`: the fault suite (DESIGN §8, issue 5) — real service processes on loopback
 * with the simulators. Its files are `*.fault.ts`, which the default `npm test` config does not
 * pick up. Files run one after another: each starts processes, and two at once on a 2-core machine
 * would measure the machine rather than the bridge. The summary table prints at the end.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/faults/**/*.fault.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 90_000,
    reporters: ['default', './test/faults/lib/summary.ts'],
  },
});
