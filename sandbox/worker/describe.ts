/** Longest error description that crosses to the host. */
const MAX = 1024;

/**
 * Describes whatever a stub threw, for the host. Reading an error's `name` and `message` may
 * run the stub's own getters (or a Proxy's traps): that is code it could run anyway, on its
 * own thread, under the watchdog; whatever it throws here is caught, and what it returns is
 * cut to a bounded length.
 */
export function describeError(thrown: unknown): string {
  try {
    if (thrown instanceof Error) {
      const message = String(thrown.message);
      return cut(message.startsWith('PF_ERR_') ? message : `${String(thrown.name)}: ${message}`);
    }
    if (thrown !== null && typeof thrown === 'object') return 'a non-Error object was thrown';
    if (typeof thrown === 'function') return 'a function was thrown';
    return cut(`${typeof thrown} thrown: ${String(thrown)}`);
  } catch {
    return 'an unreadable value was thrown';
  }
}

function cut(text: string): string {
  return text.length > MAX ? `${text.slice(0, MAX)}…` : text;
}
