import { describe, expect, it } from 'vitest';
import { finwise, makeApp } from './fixtures.test-util.js';
import { beatCommand, beatDeployment } from './beat.js';

describe('beat Deployment', () => {
  it('runs exactly one pod, replaced with Recreate', () => {
    const d = beatDeployment(finwise());
    expect(d?.metadata?.name).toBe('finwise-beat');
    expect(d?.spec?.replicas).toBe(1);
    expect(d?.spec?.strategy).toEqual({ type: 'Recreate' });
  });

  it("uses the worker's Celery app and keeps its schedule in /tmp", () => {
    const app = finwise();
    expect(beatCommand(app, app.spec.beat!)).toEqual(['celery', '-A', 'app.celery', 'beat', '--loglevel=info', '--schedule=/tmp/celerybeat-schedule']);
  });

  it('takes its own app and scheduler when given', () => {
    const app = makeApp({ image: 'x:1', beat: { app: 'proj.celery', scheduler: 'django_celery_beat.schedulers:DatabaseScheduler' } });
    expect(beatCommand(app, app.spec.beat!).slice(-1)).toEqual(['--scheduler=django_celery_beat.schedulers:DatabaseScheduler']);
    expect(beatCommand(app, app.spec.beat!)[2]).toBe('proj.celery');
  });

  it('can write its schedule: /tmp is an emptyDir on a read-only root', () => {
    const spec = beatDeployment(finwise())?.spec?.template.spec;
    expect(spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(spec?.containers[0]?.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });
});
