import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { STEPS, batches, type Step } from './steps.js';

const object = (name: string): KubernetesObject => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name } });
const step = (name: Step['name'], barrier: Step['barrier'], objects = [object(name)]): Step => ({ name, barrier, objects });

describe('STEPS', () => {
  it('states the apply order: credentials, network policies, databases, tools, jobs, workloads, scaling', () => {
    expect(STEPS.map((s) => s.name)).toEqual(['credentials', 'network-policies', 'databases', 'tools', 'jobs', 'workloads', 'scaling']);
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
      ['databases', 'tools', 'jobs'],
      ['workloads', 'scaling'],
    ]);
  });

  it('lets an empty step hold nothing back: with no jobs, databases and workloads go out together', () => {
    const names = (bs: Step[][]) => bs.map((b) => b.map((s) => s.name));
    const steps = STEPS.map((s) => step(s.name, s.barrier, s.name === 'jobs' || s.name === 'credentials' ? [] : undefined));
    expect(names(batches(steps))).toEqual([
      ['credentials', 'network-policies'],
      ['databases', 'tools', 'jobs', 'workloads', 'scaling'],
    ]);
  });

  it('keeps trailing steps without a barrier, and gives nothing for nothing', () => {
    expect(batches([step('workloads', 'none')]).map((b) => b.length)).toEqual([1]);
    expect(batches([])).toEqual([]);
    expect(batches([step('credentials', 'applied')]).map((b) => b.length)).toEqual([1]);
  });
});
