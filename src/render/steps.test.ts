import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { STEPS, batches, progressOf, type Step } from './steps.js';

const object = (name: string): KubernetesObject => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name } });
const step = (name: Step['name'], barrier: Step['barrier'], objects = [object(name)]): Step => ({ name, barrier, objects });
const job = (conditions?: { type: string; status: string; message?: string; reason?: string }[]): KubernetesObject =>
  ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'web-migrate' }, status: { conditions } }) as KubernetesObject;

describe('STEPS', () => {
  it('states the apply order: credentials, network policies, databases, jobs, workloads, scaling', () => {
    expect(STEPS.map((s) => s.name)).toEqual(['credentials', 'network-policies', 'databases', 'jobs', 'workloads', 'scaling']);
  });

  it('holds the workloads until the jobs before them have finished', () => {
    expect(STEPS.find((s) => s.name === 'jobs')?.barrier).toBe('finished');
  });
});

describe('batches', () => {
  it('joins steps up to and including each barrier, so only ordered steps wait for each other', () => {
    const names = (bs: Step[][]) => bs.map((b) => b.map((s) => s.name));
    expect(names(batches(STEPS.map((s) => step(s.name, s.barrier))))).toEqual([
      ['credentials'],
      ['network-policies'],
      ['databases', 'jobs'],
      ['workloads', 'scaling'],
    ]);
  });

  it('lets an empty step hold nothing back: with no jobs, databases and workloads go out together', () => {
    const names = (bs: Step[][]) => bs.map((b) => b.map((s) => s.name));
    const steps = STEPS.map((s) => step(s.name, s.barrier, s.name === 'jobs' || s.name === 'credentials' ? [] : undefined));
    expect(names(batches(steps))).toEqual([['credentials', 'network-policies'], ['databases', 'jobs', 'workloads', 'scaling']]);
  });

  it('keeps trailing steps without a barrier, and gives nothing for nothing', () => {
    expect(batches([step('workloads', 'none')]).map((b) => b.length)).toEqual([1]);
    expect(batches([])).toEqual([]);
    expect(batches([step('credentials', 'applied')]).map((b) => b.length)).toEqual([1]);
  });
});

describe('progressOf', () => {
  const desired = job();

  it('is running while the Job does not exist or has no terminal condition', () => {
    expect(progressOf(desired, undefined)).toEqual({ state: 'running', message: 'Job web-migrate is being created' });
    expect(progressOf(desired, job([{ type: 'Complete', status: 'False' }]))).toEqual({ state: 'running', message: 'Job web-migrate is running' });
  });

  it('is finished when the Job reports Complete', () => {
    expect(progressOf(desired, job([{ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True' }]))).toEqual({ state: 'finished' });
  });

  it('is failed, with the Job’s own message or reason, when it reports Failed', () => {
    expect(progressOf(desired, job([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }]))).toEqual({
      state: 'failed',
      message: 'Job web-migrate failed: Job has reached the specified backoff limit',
    });
    expect(progressOf(desired, job([{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }]))).toEqual({
      state: 'failed',
      message: 'Job web-migrate failed: DeadlineExceeded',
    });
  });
});
