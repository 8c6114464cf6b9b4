import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';
import { WorkQueue } from './workqueue.js';

describe('Metrics', () => {
  it('exposes controller-runtime, workqueue, leader election and process metrics by name', async () => {
    const m = new Metrics({ prefix: 'test' });
    m.initController('backendapp', 4);
    m.queueMetrics('backendapp');
    m.leaderElectionMasterStatus.set({ name: 'backendapp-operator' }, 1);
    const text = await m.registry.metrics();
    for (const name of [
      'controller_runtime_reconcile_total{controller="backendapp",result="success"} 0',
      'controller_runtime_reconcile_total{controller="backendapp",result="requeue_after"} 0',
      'controller_runtime_reconcile_errors_total{controller="backendapp"} 0',
      '# TYPE controller_runtime_reconcile_time_seconds histogram',
      'controller_runtime_active_workers{controller="backendapp"} 0',
      'controller_runtime_max_concurrent_reconciles{controller="backendapp"} 4',
      'workqueue_depth{name="backendapp",controller="backendapp"} 0',
      'workqueue_adds_total{name="backendapp",controller="backendapp"} 0',
      'workqueue_retries_total{name="backendapp",controller="backendapp"} 0',
      '# TYPE workqueue_queue_duration_seconds histogram',
      '# TYPE workqueue_work_duration_seconds histogram',
      '# TYPE workqueue_unfinished_work_seconds gauge',
      'leader_election_master_status{name="backendapp-operator"} 1',
      '# TYPE process_resident_memory_bytes gauge',
    ]) {
      expect(text).toContain(name);
    }
  });

  it("uses controller-runtime's reconcile time buckets and client-go's workqueue buckets", async () => {
    const m = new Metrics({ defaultMetrics: false, prefix: 'test' });
    m.reconcileTime.observe({ controller: 'c' }, 0.003);
    m.queueMetrics('c').queueDuration.observe(2e-8);
    const text = await m.registry.metrics();
    expect(text).toContain('controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="c"} 1');
    expect(text).toContain('controller_runtime_reconcile_time_seconds_bucket{le="60",controller="c"} 1');
    expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="1e-8",name="c",controller="c"} 0');
    expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="1e-7",name="c",controller="c"} 1');
    expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="1000",name="c",controller="c"} 1');
    expect(text).not.toContain('process_resident_memory_bytes');
  });

  it('wires workqueue hooks and reads unfinished work at scrape time', async () => {
    const m = new Metrics({ defaultMetrics: false, prefix: 'test' });
    let now = 0;
    const q = new WorkQueue({ metrics: m.queueMetrics('c'), clock: () => now });
    m.trackQueue('c', q);
    q.add('a');
    q.add('a');
    q.add('b');
    await q.get();
    now = 4000;
    const text = await m.registry.metrics();
    expect(text).toContain('workqueue_adds_total{name="c",controller="c"} 2');
    expect(text).toContain('workqueue_depth{name="c",controller="c"} 1');
    expect(text).toContain('workqueue_unfinished_work_seconds{name="c",controller="c"} 4');
    expect(text).toContain('workqueue_longest_running_processor_seconds{name="c",controller="c"} 4');
  });

  it('counts informer restarts by resource and reason', async () => {
    const m = new Metrics({ defaultMetrics: false, prefix: 'test' });
    const im = m.informerMetrics('deployments.apps');
    im.restart('gone');
    im.restart('gone');
    im.restart('watchdog');
    im.cacheSize(7);
    im.watchConnected(true);
    const text = await m.registry.metrics();
    expect(text).toContain('test_informer_restarts_total{resource="deployments.apps",reason="gone"} 2');
    expect(text).toContain('test_informer_restarts_total{resource="deployments.apps",reason="watchdog"} 1');
    expect(text).toContain('test_informer_cache_objects{resource="deployments.apps"} 7');
    expect(text).toContain('test_informer_watch_connected{resource="deployments.apps"} 1');
  });
});
