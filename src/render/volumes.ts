// The app's own volumes (spec.volumes): an emptyDir lives in each pod that mounts
// it; a persistentVolumeClaim is one claim, <app>-<name>, that every component
// listing it mounts, kept or deleted with the app as its deletionPolicy says.
import type { V1PersistentVolumeClaim, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { BackendApp } from '../api/v1alpha1.js';
import { DELETION_POLICY_LABEL, VOLUME, VOLUME_LABEL, objectMeta } from './labels.js';

type AppVolume = NonNullable<BackendApp['spec']['volumes']>[number];

/** `<app>-<volume>`: at most 42 + 1 + 63 characters, within a claim name's 253. */
export function volumeClaimName(app: BackendApp, volume: string): string {
  return `${app.metadata.name}-${volume}`;
}

/** The entries of spec.volumes a component lists, in the order it lists them. */
function listed(app: BackendApp, names: readonly string[] | undefined): AppVolume[] {
  // Validation guarantees every listed name is an entry of spec.volumes.
  return (names ?? []).flatMap((n) => app.spec.volumes?.filter((v) => v.name === n) ?? []);
}

export function appPodVolumes(app: BackendApp, names: readonly string[] | undefined): V1Volume[] {
  return listed(app, names).map((v) =>
    v.persistentVolumeClaim
      ? { name: v.name, persistentVolumeClaim: { claimName: volumeClaimName(app, v.name) } }
      : { name: v.name, emptyDir: v.emptyDir?.sizeLimit !== undefined ? { sizeLimit: String(v.emptyDir.sizeLimit) } : {} },
  );
}

export function appVolumeMounts(app: BackendApp, names: readonly string[] | undefined): V1VolumeMount[] {
  return listed(app, names).map((v) => ({ name: v.name, mountPath: v.mountPath }));
}

/**
 * Whether a component mounts a ReadWriteOnce claim: its Deployment must then stop
 * the old pod before starting the new one (Recreate), since a rolling update's new
 * pod would wait forever for a volume the old pod holds on another node.
 */
export function mountsReadWriteOnce(app: BackendApp, names: readonly string[] | undefined): boolean {
  return listed(app, names).some((v) => v.persistentVolumeClaim?.accessMode === 'ReadWriteOnce');
}

/**
 * The claim of each persistent volume. Under Retain it has no owner, so it outlives
 * the app and a recreated app mounts the same data; under Delete it goes with the app.
 */
export function appVolumeClaims(app: BackendApp): V1PersistentVolumeClaim[] {
  return (app.spec.volumes ?? []).flatMap((v): V1PersistentVolumeClaim[] => {
    const pvc = v.persistentVolumeClaim;
    if (!pvc) return [];
    return [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: objectMeta(app, volumeClaimName(app, v.name), VOLUME, {
          labels: { [VOLUME_LABEL]: v.name, [DELETION_POLICY_LABEL]: v.deletionPolicy },
          orphan: v.deletionPolicy === 'Retain',
        }),
        spec: {
          accessModes: [pvc.accessMode],
          storageClassName: pvc.storageClassName,
          resources: { requests: { storage: pvc.size } },
        },
      },
    ];
  });
}
