// An events.k8s.io/v1 recorder, so `kubectl describe` tells the story of an object.
// Like client-go's, it folds repeats of the same event into a series (one PATCH of
// a counter instead of a new object) and never fails the caller: events are best-effort.
import { randomBytes } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from './logger.js';
import { requestJSON } from './client.js';
import { formatMicroTime } from './leader-election.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(regarding: KubernetesObject, type: EventType, reason: string, note: string, action?: string): void;
}

interface Series {
  name: string;
  namespace: string;
  count: number;
  lastSeen: number;
}

/** Repeats within this window join the first event's series, as in client-go. */
const SERIES_WINDOW_MS = 6 * 60_000;
const MAX_TRACKED = 4096;
const NOTE_LIMIT = 1024;

export function createEventRecorder(kc: KubeConfig, opts: { controller: string; instance: string; log: Logger }): EventRecorder {
  const series = new Map<string, Series>();

  async function send(regarding: KubernetesObject, type: EventType, reason: string, note: string, action: string): Promise<void> {
    // Events about cluster-scoped objects go to "default", as client-go's recorder puts them.
    const ns = regarding.metadata?.namespace || 'default';
    const key = `${regarding.metadata?.uid}/${type}/${reason}/${note}`;
    const now = Date.now();
    const seen = series.get(key);
    if (seen && now - seen.lastSeen < SERIES_WINDOW_MS) {
      seen.count += 1;
      seen.lastSeen = now;
      await requestJSON(kc, {
        method: 'PATCH',
        path: `/apis/events.k8s.io/v1/namespaces/${seen.namespace}/events/${seen.name}`,
        contentType: 'application/merge-patch+json',
        body: { series: { count: seen.count, lastObservedTime: formatMicroTime(now) } },
      });
      return;
    }
    const name = `${regarding.metadata?.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
    await requestJSON(kc, {
      method: 'POST',
      path: `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        eventTime: formatMicroTime(now),
        reportingController: opts.controller,
        reportingInstance: opts.instance,
        action,
        reason,
        type,
        note: note.length > NOTE_LIMIT ? `${note.slice(0, NOTE_LIMIT - 1)}…` : note,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata?.name,
          namespace: ns,
          uid: regarding.metadata?.uid,
          resourceVersion: regarding.metadata?.resourceVersion,
        },
      },
    });
    if (series.size >= MAX_TRACKED) series.delete(series.keys().next().value as string);
    series.set(key, { name, namespace: ns, count: 1, lastSeen: now });
  }

  return {
    event(regarding, type, reason, note, action = 'Reconcile') {
      send(regarding, type, reason, note, action).catch((err: unknown) => {
        opts.log.warn({ reason, err: errorMessage(err) }, 'could not record event');
      });
    },
  };
}
