import type { V1Container, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MAX_APP_NAME_LENGTH, type BackendAppSpecInput } from '../api/v1alpha1.js';
import { apiDeployment } from './api.js';
import { finwise, makeApp } from './fixtures.test-util.js';
import { migrationJob, migrationJobName, releaseRevision } from './migrations.js';
import { restrictedViolations } from './pod.js';

const MIGRATIONS = { command: ['alembic', 'upgrade', 'head'] };

function withMigrations(spec: Partial<BackendAppSpecInput> = {}) {
  const app = finwise();
  return makeApp({ ...(app.spec as BackendAppSpecInput), migrations: MIGRATIONS, ...spec }, { name: 'finwise', namespace: 'money', uid: 'u-1' });
}

const containerOf = (job: V1Job | undefined): V1Container => job?.spec?.template.spec?.containers[0] as V1Container;

describe('migrationJob', () => {
  it('is absent without spec.migrations', () => {
    expect(migrationJob(finwise())).toBeUndefined();
  });

  it('runs the migration once, in the app image, with its deadline and retries, named and labelled by release', () => {
    const app = withMigrations({ migrations: { ...MIGRATIONS, args: ['--sql'], timeoutSeconds: 120, backoffLimit: 2 } });
    const job = migrationJob(app);
    const revision = releaseRevision(app);
    expect(revision).toMatch(/^[0-9a-f]{10}$/);
    expect(job?.metadata?.name).toBe(`finwise-migrate-${revision}`);
    expect(job?.metadata?.labels).toMatchObject({
      'app.kubernetes.io/component': 'migrate',
      'app.kubernetes.io/name': 'finwise',
      'backendapp.io/release': revision,
    });
    expect(job?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'BackendApp', uid: 'u-1', controller: true });
    expect(job?.spec).toMatchObject({ activeDeadlineSeconds: 120, backoffLimit: 2 });
    expect(job?.spec?.template.metadata?.labels).toMatchObject({ 'app.kubernetes.io/component': 'migrate', 'backendapp.io/release': revision });
    expect(job?.spec?.template.spec?.restartPolicy).toBe('Never');
    const c = containerOf(job);
    expect(c).toMatchObject({
      name: 'migrate',
      image: app.spec.image,
      command: ['alembic', 'upgrade', 'head'],
      args: ['--sql'],
      terminationMessagePolicy: 'FallbackToLogsOnError',
    });
  });

  it('defaults to 600 s and no retries', () => {
    expect(migrationJob(withMigrations())?.spec).toMatchObject({ activeDeadlineSeconds: 600, backoffLimit: 0 });
  });

  it('gets the credentials, env and envFrom exactly as the api does, and its pull secrets and pod security', () => {
    const app = withMigrations({ imagePullSecrets: [{ name: 'registry' }] });
    const job = migrationJob(app);
    const api = apiDeployment(app)?.spec?.template.spec;
    const apiContainer = api?.containers[0] as V1Container;
    expect(containerOf(job).env).toEqual(apiContainer.env);
    expect(containerOf(job).envFrom).toEqual(apiContainer.envFrom);
    expect(containerOf(job).env?.some((e) => e.valueFrom?.secretKeyRef?.name === 'finwise-postgres-credentials')).toBe(true);
    expect(job?.spec?.template.spec?.imagePullSecrets).toEqual([{ name: 'registry' }]);
    expect(job?.spec?.template.spec?.securityContext).toEqual(api?.securityContext);
    expect(restrictedViolations(job?.spec?.template.spec ?? { containers: [] })).toEqual([]);
  });

  it('fits the longest app name in 63 characters', () => {
    const app = makeApp({ image: 'x:1', migrations: MIGRATIONS }, { name: 'a'.repeat(MAX_APP_NAME_LENGTH) });
    expect(migrationJobName(app, releaseRevision(app)).length).toBeLessThanOrEqual(63);
  });
});

describe('releaseRevision', () => {
  const base = withMigrations();

  it('changes with what the schema sees: image, migration command and args, env, envFrom', () => {
    const changed = [
      withMigrations({ image: 'ghcr.io/finwise/backend:9.9.9' }),
      withMigrations({ migrations: { command: ['python', '-m', 'app.migrate'] } }),
      withMigrations({ migrations: { ...MIGRATIONS, args: ['heads'] } }),
      withMigrations({ env: [{ name: 'FEATURE', value: 'on' }] }),
      withMigrations({ envFrom: [{ secretRef: { name: 'other' } }] }),
    ];
    const revisions = changed.map(releaseRevision);
    for (const r of revisions) expect(r).not.toBe(releaseRevision(base));
    expect(new Set(revisions).size).toBe(revisions.length);
  });

  it('stays the same for what does not touch the schema: replicas, resources, timeout, retries', () => {
    const api = base.spec.api;
    expect(releaseRevision(withMigrations({ api: { ...api, replicas: 7 } as BackendAppSpecInput['api'] }))).toBe(releaseRevision(base));
    expect(releaseRevision(withMigrations({ migrations: { ...MIGRATIONS, timeoutSeconds: 30, backoffLimit: 3, resources: { requests: { cpu: '1' } } } }))).toBe(
      releaseRevision(base),
    );
    expect(releaseRevision(withMigrations())).toBe(releaseRevision(base));
  });
});
