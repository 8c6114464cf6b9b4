import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { setupCluster } from '../integration/global-setup.js';

const root = path.resolve(import.meta.dirname, '../..');

// The e2e project stands on the local control plane with its real node, and needs
// the images the stack runs: built on this machine from Debian's packages and PyPI
// (cached outside the repo) and imported into the node's containerd under the names
// the operator renders. Any step that fails fails the run with its reason.
export default function setup(project: TestProject): () => void {
  const teardown = setupCluster(project, { realNode: true });
  try {
    const started = Date.now();
    const socket = execFileSync(path.join(root, 'hack/real-node.sh'), ['socket'], { cwd: root, encoding: 'utf8' }).trim();
    execFileSync(path.join(root, 'hack/images/build.sh'), ['import', '--address', socket], { cwd: root, stdio: 'inherit' });
    console.log(`[e2e] images built (or found in the cache) and imported in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    teardown();
    throw new Error(`the e2e images could not be built or imported (hack/images/build.sh import): ${String(err)}`);
  }
  return teardown;
}
