import type { Activate } from '../../../core/stub.js';
import { attemptAsync, type Outcomes, reportingStub } from '../report.js';

/**
 * Attack: the sandbox's crypto.subtle (sandbox/worker/compartment.ts) beyond what it offers:
 * PBKDF2 work no watchdog reaches (one call, at once, or in a minute), a key it did not make, the host's CryptoKey behind a handle.
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = async (ctx) => {
  const subtle = (globalThis as Any).crypto.subtle;
  const outcomes: Outcomes = {};
  const raw = new Uint8Array(16);
  const pbkdf2 = () => subtle.importKey('raw', raw, 'PBKDF2', false, ['deriveBits']);
  await attemptAsync(outcomes, 'PBKDF2 beyond the iteration bound', async () => {
    await subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: raw, iterations: 2_000_000_000 },
      await pbkdf2(),
      256,
    );
    return true;
  });
  await attemptAsync(outcomes, 'deriveBits of a huge length', async () => {
    await subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: raw, iterations: 1 },
      await pbkdf2(),
      1 << 30,
    );
    return true;
  });
  await attemptAsync(outcomes, 'deriveBits other than PBKDF2', async () => {
    await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: raw, info: raw }, await pbkdf2(), 256);
    return true;
  });
  await attemptAsync(outcomes, 'a key the sandbox did not make', async () => {
    await subtle.sign('HMAC', {}, raw);
    return true;
  });
  await attemptAsync(outcomes, 'a jwk key', async () => {
    await subtle.importKey('jwk', { kty: 'oct', k: 'AAAA' }, { name: 'HMAC', hash: 'SHA-256' }, true, [
      'sign',
    ]);
    return true;
  });
  await attemptAsync(outcomes, "the host's CryptoKey behind a handle", async () => {
    const handle = await pbkdf2();
    // A handle is a frozen empty object: nothing of the host's key, nothing to write on.
    return !Object.isFrozen(handle) || Reflect.ownKeys(handle).length > 0 || 'algorithm' in handle;
  });
  await attemptAsync(outcomes, 'two operations at once in the shared thread pool', async () => {
    const key = await pbkdf2();
    const derive = () =>
      subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: raw, iterations: 1000 }, key, 160);
    // Both settle before the next attempt: a refusal is its own, not the last one's still running.
    const refused = (await Promise.allSettled([derive(), derive()])).find((r) => r.status === 'rejected');
    if (refused) throw refused.reason;
    return true;
  });
  await attemptAsync(outcomes, "PBKDF2 past the minute's iterations", async () => {
    const key = await pbkdf2();
    for (let i = 0; i < 3; i++) {
      await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: raw, iterations: 400_000 }, key, 160);
    }
    return true;
  });
  await attemptAsync(outcomes, 'a method not offered (encrypt, exportKey, generateKey)', async () =>
    ['encrypt', 'exportKey', 'generateKey', 'unwrapKey'].some((m) => typeof subtle[m] === 'function'),
  );
  return reportingStub(ctx, outcomes);
};

export default activate;
