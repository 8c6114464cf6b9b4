import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure code (no cluster, runs in seconds); `integration`
// stands on the local control plane (hack/local-cluster.sh) or on $KUBECONFIG.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Files share one API server; run them one at a time so timing-sensitive
          // checks (idle writes, leader handover) are not disturbed by neighbours.
          fileParallelism: false,
        },
      },
    ],
  },
});
