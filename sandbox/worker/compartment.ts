/**
 * Package evaluation under SES: one Compartment per package version, after `lockdown()`.
 * A compartment's global object holds the frozen shared intrinsics and nothing else: no
 * `process`, `require`, `fetch`, `WebSocket`, timers or the worker's own `globalThis`.
 */

// SES installs these globals; they are declared here rather than through `ses`'s types so
// that they exist for this file only, never for host code (which must not lock down).
declare const Compartment: new (options: {
  globals: object;
  name: string;
  __options__: true;
}) => { evaluate(source: string): unknown };
declare const harden: <T>(value: T) => T;

let endowments: object | undefined;

/**
 * The powers a stub gets beyond the shared intrinsics. SES compartments have no clock and no
 * randomness (`Date.now()` and `Math.random()` throw there); stubs need both for protocol
 * timers and ids. Everything is the start compartment's, hardened by lockdown, or a hardened
 * wrapper that exposes one function and not the host object behind it.
 */
function stubEndowments(): object {
  endowments ??= harden({
    Date: globalThis.Date,
    Math: globalThis.Math,
    crypto: {
      getRandomValues: <T extends ArrayBufferView>(array: T): T => globalThis.crypto.getRandomValues(array),
      randomUUID: (): string => globalThis.crypto.randomUUID(),
    },
  });
  return endowments;
}

/** Evaluates `script` in a fresh compartment named `name` and returns its completion value. */
export function evaluateInCompartment(script: string, name: string): unknown {
  return new Compartment({ globals: stubEndowments(), name, __options__: true }).evaluate(script);
}
