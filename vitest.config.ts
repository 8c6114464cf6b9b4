import { defineConfig } from 'vitest/config';

// Four projects: `unit` is pure code (no cluster, runs in seconds); `integration`
// stands on the local control plane (hack/local-cluster.sh) or on $KUBECONFIG;
// `drills` are the slow fault drills (operator killed, control plane restarted,
// storms, hostile input) on the same kind of cluster; `e2e` runs the stack for real
// on the local control plane's real node (hack/local-cluster.sh up --real-node),
// with images built on the machine (hack/images/).
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
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // Real pods on the real node: images start, databases initialise, Python imports.
          testTimeout: 600_000,
          hookTimeout: 900_000,
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
