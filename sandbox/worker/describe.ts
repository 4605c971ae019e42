/** Longest error description that crosses to the host. */
const MAX = 1024;

/**
 * Describes whatever a stub threw, for the host, without trusting it: only own data
 * properties are read, so a thrown object's getters never run (a Proxy's traps still may;
 * they run on the stub's own thread, under the watchdog, and their exceptions are caught).
 */
export function describeError(thrown: unknown): string {
  try {
    if (thrown !== null && typeof thrown === 'object') {
      const message = Object.getOwnPropertyDescriptor(thrown, 'message')?.value;
      const proto = Object.getPrototypeOf(thrown);
      const name = proto ? Object.getOwnPropertyDescriptor(proto, 'name')?.value : undefined;
      if (typeof message !== 'string') return 'a non-Error object was thrown';
      return cut(
        typeof name === 'string' && !message.startsWith('PF_ERR_') ? `${name}: ${message}` : message,
      );
    }
    if (typeof thrown === 'function') return 'a function was thrown';
    return cut(`${typeof thrown} thrown: ${String(thrown)}`);
  } catch {
    return 'an unreadable value was thrown';
  }
}

function cut(text: string): string {
  return text.length > MAX ? `${text.slice(0, MAX)}…` : text;
}
