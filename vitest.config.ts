import { defineConfig } from 'vitest/config';

// Three projects: `unit` is pure code (no cluster, runs in seconds); `integration`
// stands on the local control plane (hack/local-cluster.sh) or on $KUBECONFIG;
// `drills` are the slow fault drills (operator killed, control plane restarted,
// storms, hostile input) on the same kind of cluster.
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
      {
        test: {
          name: 'drills',
          include: ['test/drills/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // Each drill is one long test with its own bounds; these only catch a hang.
          testTimeout: 600_000,
          hookTimeout: 300_000,
          // Drills stop the API server and etcd and load the machine on purpose: one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
