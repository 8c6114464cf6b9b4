// The local control plane's real node (hack/local-cluster.sh up --real-node): how a
// test puts pods there and reaches them. Upstream mechanisms only: the node is
// tainted, and a namespace's PodNodeSelector and PodTolerationRestriction
// annotations send every pod of that namespace to it.
import { kubectlOk } from './cluster.js';

export const REAL_NODE = 'real-node';
const LABEL = 'backendapp.io/real-node';

/** Namespace annotations that place every pod of the namespace on the real node. */
export const REAL_NODE_ANNOTATIONS: Readonly<Record<string, string>> = {
  'scheduler.alpha.kubernetes.io/node-selector': `${LABEL}=true`,
  'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([{ key: LABEL, operator: 'Exists', effect: 'NoSchedule' }]),
};

/** Pod Security `restricted`, enforced: what a hardened cluster's namespace does. */
export const RESTRICTED: Readonly<Record<string, string>> = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

/** A Service's ClusterIP, which the real node's kube-proxy translates on this machine. */
export async function serviceURL(namespace: string, service: string, port: number): Promise<string> {
  const ip = (await kubectlOk(['get', 'service', service, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  if (!/^10\.96\./.test(ip)) throw new Error(`service ${namespace}/${service} has ClusterIP "${ip}", outside the local cluster's 10.96.0.0/16`);
  return `http://${ip}:${port}`;
}

/** An HTTP request with a deadline; the status and body, or the error's text as the body with status 0. */
export async function http(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}
