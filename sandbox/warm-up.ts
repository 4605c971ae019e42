import type { StubDescriptor } from '../core/generated/types.js';
import { request } from '../core/message.js';
import type { Sandbox } from './sandbox.js';
import { wrapScript } from './script.js';

/**
 * A sandbox's first package and first conversation pay for compiling the worker's code paths
 * (compartment creation, `ctx`, the channel) and the host's: about 3 ms on Node 20. A sandbox
 * pays that before it says it is ready, with a built-in stub that answers one message and
 * stops, so that a cold package on a warm spare does not.
 */

const DOMAIN = 'warm-up.invalid';

const DESCRIPTOR: StubDescriptor = {
  kind: 'stub',
  name: 'warm-up',
  version: '0.0.0',
  domain: DOMAIN,
  protocol: 'none',
  capabilities: ['chat'],
  engine: '*',
  sourcePackage: { url: 'built-in', integrity: `sha384-${'A'.repeat(64)}`, size: 1, format: 'esm' },
  configuration: { schema: {} },
  constraints: { endpoints: [], runtimes: ['node', 'browser'] },
  signature: { keyId: 'built-in', alg: 'Ed25519', value: 'A'.repeat(86) },
};

const SCRIPT = wrapScript(`module.exports = { default: (ctx) => {
  ctx.status('live');
  return {
    postMessage: (m) => ctx.send({ id: m.id, type: 'response', from: m.to, to: m.from, body: { code: 200 } }),
    stop: () => {},
  };
} };`);

/** Runs the warm-up stub once in `sandbox`; never rejects (a sandbox that cannot is dying, and says so itself). */
export async function warmUp(sandbox: Sandbox): Promise<void> {
  try {
    const pkg = await sandbox.load('built-in warm-up', DESCRIPTOR, SCRIPT);
    const here = `user://${DOMAIN}/warm-up`;
    let answered: () => void = () => {};
    const answer = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const handle = await sandbox.activate(pkg, {
      id: 'warm-up',
      identity: { address: here },
      config: {},
      from: [here],
      send: () => answered(),
      delegate: { onStatus: (status) => status === 'failed' && answered() },
    });
    handle.postMessage(request('read', here, here, {}));
    await answer;
    await handle.stop();
  } catch {
    // Nothing to do: the sandbox reports its own death.
  }
}
