import { describe, expect, it } from 'vitest';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { componentProblem, podProblem, podSummary } from './pods.js';

function pod(name: string, status: V1Pod['status'], extra: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels: { 'app.kubernetes.io/component': 'worker' }, ...extra }, status };
}

function container(name: string, state: V1ContainerStatus['state'], more: Partial<V1ContainerStatus> = {}): V1ContainerStatus {
  return { name, image: 'x:1', imageID: '', ready: false, restartCount: 0, state, ...more };
}

const missingSecret = pod('web-worker-a', {
  phase: 'Pending',
  containerStatuses: [container('worker', { waiting: { reason: 'CreateContainerConfigError', message: 'secret "finwise-api-keys" not found' } })],
});

describe('podProblem', () => {
  it("names a missing Secret or ConfigMap (CreateContainerConfigError) with the kubelet's message", () => {
    expect(podProblem(missingSecret)).toBe('CreateContainerConfigError: secret "finwise-api-keys" not found');
  });

  it('names an image that cannot be pulled', () => {
    const p = pod('a', {
      containerStatuses: [container('api', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "ghcr.io/acme/api:9"' } })],
    });
    expect(podProblem(p)).toBe('ImagePullBackOff: Back-off pulling image "ghcr.io/acme/api:9"');
  });

  it("gives a crash loop's last exit code and the last line of its termination message", () => {
    const p = pod('a', {
      containerStatuses: [
        container(
          'api',
          { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=api pod=a' } },
          { restartCount: 3, lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'Traceback...\nModuleNotFoundError: No module named app' } } },
        ),
      ],
    });
    expect(podProblem(p)).toBe('CrashLoopBackOff: container api exited with code 1 (restarted 3 times): ModuleNotFoundError: No module named app');
  });

  it('says OOMKilled instead of an exit code', () => {
    const p = pod('a', {
      containerStatuses: [
        container(
          'worker',
          { waiting: { reason: 'CrashLoopBackOff' } },
          { restartCount: 1, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } },
        ),
      ],
    });
    expect(podProblem(p)).toBe('CrashLoopBackOff: container worker was OOMKilled (restarted 1 time)');
  });

  it('looks at init containers too', () => {
    const p = pod('a', { initContainerStatuses: [container('migrate', { waiting: { reason: 'ErrImagePull', message: 'not found' } })] });
    expect(podProblem(p)).toBe('ErrImagePull: not found');
  });

  it('reports a pod the scheduler cannot place, before any container exists', () => {
    const p = pod('a', {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }],
    });
    expect(podProblem(p)).toBe('Unschedulable: 0/3 nodes are available: 3 Insufficient memory.');
  });

  it('sees no problem in a container on its normal way to running, in a running one, or in a pod being deleted', () => {
    expect(podProblem(pod('a', { containerStatuses: [container('api', { waiting: { reason: 'ContainerCreating' } })] }))).toBeUndefined();
    expect(podProblem(pod('a', { containerStatuses: [container('api', { running: {} })] }))).toBeUndefined();
    expect(podProblem(pod('a', { phase: 'Pending' }))).toBeUndefined();
    expect(podProblem({ ...missingSecret, metadata: { ...missingSecret.metadata, deletionTimestamp: new Date() } })).toBeUndefined();
  });

  it('keeps a problem short enough for a status message', () => {
    const p = pod('a', { containerStatuses: [container('api', { waiting: { reason: 'CreateContainerError', message: 'x'.repeat(1000) } })] });
    expect(podProblem(p)?.length).toBe(200);
  });
});

describe('componentProblem', () => {
  it('reports the problem most pods share, the first by name on a tie', () => {
    const crash = (name: string) => pod(name, { containerStatuses: [container('worker', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 2 })] });
    const secret = (name: string) => ({ ...missingSecret, metadata: { ...missingSecret.metadata, name } });
    expect(componentProblem([crash('a'), secret('b'), secret('c')])).toBe('CreateContainerConfigError: secret "finwise-api-keys" not found');
    expect(componentProblem([secret('b'), crash('a')])).toBe('CrashLoopBackOff: container worker keeps exiting (restarted 2 times)');
    expect(componentProblem([pod('a', { phase: 'Running' })])).toBeUndefined();
    expect(componentProblem([])).toBeUndefined();
  });
});

describe('podSummary', () => {
  it('keeps what problem detection reads and drops the rest of the pod', () => {
    const full: V1Pod = {
      ...missingSecret,
      metadata: { ...missingSecret.metadata, uid: 'u', resourceVersion: '5', annotations: { big: 'x'.repeat(1000) }, managedFields: [{}] },
      spec: { containers: [{ name: 'worker', image: 'x:1', env: [{ name: 'A', value: 'b' }] }] },
      status: {
        ...missingSecret.status,
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'PodScheduled', status: 'True' },
        ],
        podIP: '10.0.0.1',
      },
    };
    const small = podSummary(full);
    expect(small.spec).toBeUndefined();
    expect(small.metadata).toEqual({
      name: 'web-worker-a',
      namespace: 'shop',
      uid: 'u',
      resourceVersion: '5',
      labels: { 'app.kubernetes.io/component': 'worker' },
    });
    expect(small.status?.conditions).toBeUndefined();
    expect(podProblem(small)).toBe(podProblem(full));
    expect(JSON.stringify(small).length).toBeLessThan(JSON.stringify(full).length / 3);
  });
});

describe('podProblem, every rule', () => {
  it('reports each waiting reason that means the container will not start by itself', () => {
    for (const reason of [
      'CreateContainerConfigError',
      'CreateContainerError',
      'ImagePullBackOff',
      'ErrImagePull',
      'ErrImageNeverPull',
      'InvalidImageName',
      'RunContainerError',
    ]) {
      expect(podProblem(pod('a', { containerStatuses: [container('api', { waiting: { reason, message: 'why' } })] }))).toBe(`${reason}: why`);
    }
    expect(podProblem(pod('a', { containerStatuses: [container('api', { waiting: { reason: 'PodInitializing' } })] }))).toBeUndefined();
  });

  it('names the container when the kubelet gives no message', () => {
    const p = pod('a', { containerStatuses: [container('worker', { waiting: { reason: 'InvalidImageName' } })] });
    expect(podProblem(p)).toBe('InvalidImageName: container worker');
  });

  it('says no node fits when the scheduler gives no message, and ignores a pod only waiting for its scheduling gates', () => {
    const noMessage = pod('a', { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] });
    expect(podProblem(noMessage)).toBe('Unschedulable: no node fits the pod');
    const gated = pod('a', {
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' }],
    });
    expect(podProblem(gated)).toBeUndefined();
  });

  it('keeps a problem of exactly the limit whole, and cuts a longer one with an ellipsis', () => {
    const prefix = 'CreateContainerError: ';
    const exact = pod('a', {
      containerStatuses: [container('api', { waiting: { reason: 'CreateContainerError', message: 'x'.repeat(200 - prefix.length) } })],
    });
    expect(podProblem(exact)).toBe(`${prefix}${'x'.repeat(200 - prefix.length)}`);
    const longer = pod('a', {
      containerStatuses: [container('api', { waiting: { reason: 'CreateContainerError', message: 'x'.repeat(201 - prefix.length) } })],
    });
    expect(podProblem(longer)).toBe(`${prefix}${'x'.repeat(199 - prefix.length)}…`);
  });
});

describe('componentProblem, with healthy pods', () => {
  it('reports the one failing pod of three, however many are fine', () => {
    const healthy = (name: string) => pod(name, { phase: 'Running', containerStatuses: [container('worker', { running: {} }, { ready: true })] });
    expect(componentProblem([healthy('a'), missingSecret, healthy('c')])).toBe('CreateContainerConfigError: secret "finwise-api-keys" not found');
  });
});

describe('podSummary, every state problem detection reads', () => {
  it("keeps a crash loop's last termination (exit code, reason, the message cut to 200 characters) and drops the image id", () => {
    const crashing = pod('a', {
      phase: 'Running',
      containerStatuses: [
        container(
          'api',
          { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
          {
            imageID: 'docker.io/acme/api@sha256:0123',
            restartCount: 4,
            lastState: { terminated: { exitCode: 3, reason: 'Error', message: 'y'.repeat(500), startedAt: new Date(), finishedAt: new Date() } },
          },
        ),
      ],
    });
    const small = podSummary(crashing);
    expect(small.status?.containerStatuses).toEqual([
      {
        name: 'api',
        ready: false,
        restartCount: 4,
        image: 'x:1',
        imageID: '',
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
        lastState: { terminated: { exitCode: 3, reason: 'Error', message: 'y'.repeat(200) } },
      },
    ]);
    expect(podProblem(small)).toBe(podProblem(crashing));
  });

  it('keeps running and terminated states, and init containers', () => {
    const p = pod('a', {
      phase: 'Pending',
      initContainerStatuses: [container('migrate', { terminated: { exitCode: 0, reason: 'Completed', message: 'done' } })],
      containerStatuses: [container('api', { running: { startedAt: new Date() } }), container('sidecar', {})],
    });
    const small = podSummary(p);
    expect(small.status?.initContainerStatuses?.map((c) => c.state)).toEqual([{ terminated: { exitCode: 0, reason: 'Completed', message: 'done' } }]);
    expect(small.status?.containerStatuses?.map((c) => c.state)).toEqual([{ running: {} }, {}]);
  });

  it("keeps only the scheduler's refusal among the conditions, and a deletion in progress", () => {
    const deleting = new Date('2026-01-01T00:00:00Z');
    const p = pod(
      'a',
      {
        phase: 'Pending',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'not ready' },
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available', lastTransitionTime: new Date() },
        ],
      },
      { deletionTimestamp: deleting },
    );
    const small = podSummary(p);
    expect(small.status?.conditions).toEqual([{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }]);
    expect(small.metadata?.deletionTimestamp).toBe(deleting);
    expect(podProblem(small)).toBeUndefined();
    expect(podProblem({ ...small, metadata: { ...small.metadata, deletionTimestamp: undefined } })).toBe('Unschedulable: 0/3 nodes are available');
  });
});
