import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { clientsOf, databaseNetworkPolicy } from './networkpolicy.js';

describe('database NetworkPolicy', () => {
  it("admits only this app's client pods, on the database port", () => {
    expect(databaseNetworkPolicy(finwise(), 'postgres')?.spec).toEqual({
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/instance': 'finwise',
          'app.kubernetes.io/component': 'postgres',
          'app.kubernetes.io/managed-by': 'backendapp-operator',
        },
      },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              podSelector: {
                matchLabels: { 'app.kubernetes.io/instance': 'finwise', 'app.kubernetes.io/managed-by': 'backendapp-operator' },
                matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api', 'worker', 'beat'] }],
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ],
    });
  });

  it('lets Flower reach Redis, the broker, and nothing else', () => {
    expect(clientsOf(finwise(), 'redis')).toContain('flower');
    expect(clientsOf(finwise(), 'postgres')).not.toContain('flower');
    expect(clientsOf(finwise(), 'mongodb')).not.toContain('flower');
  });

  it('lets the migration reach every database the app reaches, only when migrations are on', () => {
    const migrating = finwise();
    migrating.spec.migrations = { command: ['alembic', 'upgrade', 'head'], timeoutSeconds: 600, backoffLimit: 0 };
    for (const db of ['postgres', 'redis', 'mongodb'] as const) {
      expect(clientsOf(migrating, db)).toEqual([...clientsOf(finwise(), db), 'migrate']);
      expect(clientsOf(finwise(), db)).not.toContain('migrate');
    }
  });

  it('exists only for databases that are on', () => {
    expect(databaseNetworkPolicy(makeApp({ image: 'x:1' }), 'redis')).toBeUndefined();
  });
});

describe('who may connect to each database', () => {
  it('is the app components that use it, and Flower for the Redis broker', () => {
    expect(clientsOf(finwise(), 'postgres')).toEqual(['api', 'worker', 'beat']);
    expect(clientsOf(finwise(), 'mongodb')).toEqual(['api', 'worker', 'beat']);
    expect(clientsOf(finwise(), 'redis')).toEqual(['api', 'worker', 'beat', 'flower']);
  });
});
