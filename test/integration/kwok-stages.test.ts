// kwok's pod stages (hack/kwok/stages.yaml): a Job's pod ends as its first
// container's command says (no marker: Succeeded; "kwok:fail": Failed with the next
// element as its message; "kwok:hang": never ends; "kwok:slow": Succeeded after
// about 15 s), and every other pod still becomes Running and Ready and goes when deleted.
import { AppsV1Api, BatchV1Api, CoreV1Api, type V1Job, type V1JobCondition, type V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectlOk, loadKubeConfig, useNamespace, waitFor } from '../support/cluster.js';

const ns = useNamespace('kwok-stages');
const batch = () => loadKubeConfig().makeApiClient(BatchV1Api);
const core = () => loadKubeConfig().makeApiClient(CoreV1Api);

/** A plain Job as the operator's migration will be: one pod, never restarted, no retries unless asked. */
async function createJob(name: string, command: string[], spec: { activeDeadlineSeconds?: number; backoffLimit?: number } = {}): Promise<V1Job> {
  return batch().createNamespacedJob({
    namespace: ns.name,
    body: {
      metadata: { name },
      spec: {
        backoffLimit: spec.backoffLimit ?? 0,
        ...(spec.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: spec.activeDeadlineSeconds } : {}),
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'registry.example/app:1', command }] } },
      },
    },
  });
}

function trueCondition(job: V1Job, type: string): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** Waits until the Job has its terminal condition (Complete or Failed); returns it and the time it took from creation. */
async function waitFinished(name: string, timeoutMs = 60_000): Promise<{ job: V1Job; ms: number }> {
  const started = Date.now();
  const job = await waitFor(
    `job ${name} Complete or Failed`,
    async () => {
      const j = await batch().readNamespacedJob({ name, namespace: ns.name });
      return trueCondition(j, 'Complete') || trueCondition(j, 'Failed') ? j : undefined;
    },
    timeoutMs,
  );
  return { job, ms: Date.now() - started };
}

async function podsOf(job: string): Promise<V1Pod[]> {
  const list = await core().listNamespacedPod({ namespace: ns.name, labelSelector: `batch.kubernetes.io/job-name=${job}` });
  return list.items;
}

async function onlyPodOf(job: string): Promise<V1Pod> {
  const pods = await podsOf(job);
  expect(pods).toHaveLength(1);
  return pods[0]!;
}

const running = (p: V1Pod | undefined): boolean =>
  p?.status?.phase === 'Running' &&
  p.status.containerStatuses?.[0]?.state?.running !== undefined &&
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('kwok pod stages', () => {
  it('keeps the simulated nodes Ready', async () => {
    const nodes = await core().listNode({ labelSelector: 'type=kwok' });
    expect(nodes.items.length).toBeGreaterThanOrEqual(1);
    for (const n of nodes.items) expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status, n.metadata?.name).toBe('True');
  });

  it('completes a Job whose command has no marker', async () => {
    await createJob('plain', ['alembic', 'upgrade', 'head']);
    const { job, ms } = await waitFinished('plain');
    console.log(`plain: created to Complete in ${ms} ms`);
    expect(trueCondition(job, 'Complete'), JSON.stringify(job.status)).toBeDefined();
    expect(job.status?.succeeded).toBe(1);
    const pod = await onlyPodOf('plain');
    expect(pod.status?.phase).toBe('Succeeded');
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('fails a Job on "kwok:fail", with exit code 1 and the next element as the message', async () => {
    const message = 'relation "items" already exists';
    await createJob('fails', ['alembic', 'kwok:fail', message]);
    const { job, ms } = await waitFinished('fails');
    console.log(`fails: created to Failed in ${ms} ms`);
    expect(trueCondition(job, 'Failed'), JSON.stringify(job.status)).toMatchObject({ reason: 'BackoffLimitExceeded' });
    expect(job.status?.failed).toBe(1);
    const pod = await onlyPodOf('fails');
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 1, reason: 'Error', message });
  });

  it('fails without a message when nothing follows "kwok:fail", and retries up to backoffLimit', async () => {
    await createJob('fails-bare', ['migrate', 'kwok:fail'], { backoffLimit: 1 });
    const { job, ms } = await waitFinished('fails-bare');
    console.log(`fails-bare (backoffLimit 1): created to Failed in ${ms} ms`);
    expect(trueCondition(job, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded' });
    expect(job.status?.failed).toBe(2);
    const pods = await podsOf('fails-bare');
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
      expect(terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
      expect(terminated?.message).toBeUndefined();
    }
  });

  it('keeps a "kwok:hang" pod Running and Ready until the Job\'s activeDeadlineSeconds fails it', async () => {
    await createJob('hangs', ['migrate', 'kwok:hang'], { activeDeadlineSeconds: 5 });
    const pod = await waitFor('the hanging pod Running and Ready', async () => {
      const pods = await podsOf('hangs');
      return running(pods[0]) ? pods[0] : undefined;
    });
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
    const { job, ms } = await waitFinished('hangs');
    const failed = trueCondition(job, 'Failed');
    expect(failed, JSON.stringify(job.status)).toMatchObject({ reason: 'DeadlineExceeded' });
    const deadlineAfter = new Date(failed!.lastTransitionTime!).getTime() - new Date(job.status!.startTime!).getTime();
    console.log(`hangs: Running and Ready, then Failed (DeadlineExceeded) ${deadlineAfter} ms after the Job's startTime; ${ms} ms after the pod ran`);
    expect(deadlineAfter).toBeGreaterThanOrEqual(4_000);
    // The Job controller deletes the pod it gave up on; kwok's pod-delete stage removes it.
    await waitFor('the hanging pod gone', async () => (await podsOf('hangs')).length === 0, 30_000);
  });

  it('completes a "kwok:slow" Job about 15 s after its pod runs, not before', async () => {
    await createJob('slow', ['migrate', 'kwok:slow']);
    await waitFor('the slow pod Running', async () => running((await podsOf('slow'))[0]), 30_000);
    const runningSince = Date.now();
    // Watch, do not sleep: the longest the pod was seen Running, and the Job not
    // Complete, after it first ran.
    let stillRunningAfter = 0;
    const job = await waitFor(
      'the slow Job Complete or Failed',
      async () => {
        const j = await batch().readNamespacedJob({ name: 'slow', namespace: ns.name });
        if (trueCondition(j, 'Complete') || trueCondition(j, 'Failed')) return j;
        const pod = (await podsOf('slow'))[0];
        if (running(pod) && j.status?.active === 1) stillRunningAfter = Date.now() - runningSince;
        return undefined;
      },
      60_000,
      500,
    );
    const completeAfter = Date.now() - runningSince;
    console.log(`slow: still Running ${stillRunningAfter} ms after its pod ran; Complete seen after ${completeAfter} ms`);
    expect(trueCondition(job, 'Complete'), JSON.stringify(job.status)).toBeDefined();
    expect(stillRunningAfter).toBeGreaterThanOrEqual(10_000);
    const terminated = (await onlyPodOf('slow')).status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    // kwok keeps the running container's start: its run lasted the stage's delay (times have whole seconds).
    const ranFor = new Date(terminated!.finishedAt!).getTime() - new Date(terminated!.startedAt!).getTime();
    expect(ranFor).toBeGreaterThanOrEqual(14_000);
  });

  it("still makes a Deployment's pods Running and Ready, and deletes them", async () => {
    const apps = loadKubeConfig().makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            // A marker outside a Job does nothing: only Job pods end.
            spec: { containers: [{ name: 'web', image: 'registry.example/app:1', command: ['serve', 'kwok:fail', 'not a Job'] }] },
          },
        },
      },
    });
    await waitFor('deployment web with 2 ready replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns.name });
      return d.status?.readyReplicas === 2 && d.status.availableReplicas === 2;
    });
    const pods = (await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'app=web' })).items;
    expect(pods.map((p) => running(p))).toEqual([true, true]);
    // Scaled to zero, its pods are deleted (pod-delete) and go.
    await kubectlOk(['scale', '-n', ns.name, 'deployment/web', '--replicas=0']);
    await waitFor(
      'deployment web with no pods',
      async () => (await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'app=web' })).items.length === 0,
    );
  });
});
