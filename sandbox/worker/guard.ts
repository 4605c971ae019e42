/**
 * Calls into stub code and hands any throw, or the rejection of a promise it returned, to
 * `onError`: what an instance and a session both do with each call they make for a stub.
 *
 * @returns false when `call` threw synchronously.
 */
export function guard(call: () => unknown, onError: (err: unknown) => void): boolean {
  try {
    const result = call();
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as Promise<unknown>).then === 'function'
    ) {
      (result as Promise<unknown>).then(undefined, onError);
    }
    return true;
  } catch (err) {
    onError(err);
    return false;
  }
}
