import { ProtoflyError } from '../../core/errors.js';

/**
 * Array-buffer memory, bounded where it is allocated. A worker's heap limit does not cover
 * array buffers (their bytes live outside the JS heap, the heap holds a small object each),
 * and no heartbeat can stop a stub that allocates them in a loop between two beats. So,
 * before SES `lockdown()` freezes them, every way a compartment has to make array-buffer
 * bytes is wrapped to charge them first: the `ArrayBuffer` and typed-array constructors
 * (which their `slice`, `map`, `filter`, `from` and `of` reach through `constructor` and
 * `Symbol.species`), `ArrayBuffer.prototype.resize` / `transfer` and their SES immutable
 * forms, and `TextEncoder.prototype.encode`. `SharedArrayBuffer`, `WebAssembly` and the float
 * arrays never reach a compartment (SES leaves them out).
 *
 * Charging reads the realm's actual array-buffer bytes (`measure`) once per `limit / 16`
 * bytes charged, so small allocations cost an addition. An allocation that would take the
 * realm over `limit` is refused (`PF_ERR_MEMORY`) and `over` is called: the realm holds at
 * most `limit` plus what was allocated before the last measure and never charged (the
 * supervisor's own buffers, a few kilobytes). Sizes that only the allocation itself knows (an
 * iterable's, an encoded string's) are charged once known: those bytes came through the JS
 * heap, whose limit bounds them.
 */
export interface BufferMeter {
  /** Bytes of array buffers the realm may hold. */
  readonly limit: number;
  /** Bytes of array buffers the realm holds now. */
  measure(): number;
  /** An allocation was refused: it would have taken the realm to `bytes`; it holds `held`. Called once. */
  over(bytes: number, held: number): void;
}

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float16Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

type Constructor = new (...args: unknown[]) => object;

/** Installs the meter on this realm's intrinsics; call once, before `lockdown()`. */
export function meterArrayBuffers(meter: BufferMeter): void {
  const charge = charger(meter);
  const NativeArrayBuffer = globalThis.ArrayBuffer;
  const byteLength = getter(NativeArrayBuffer.prototype, 'byteLength');
  const TypedArray = Object.getPrototypeOf(Uint8Array) as Constructor;
  const length = getter(TypedArray.prototype, 'length');
  /** The bytes of `value` if it is an array buffer, else undefined (brand-checked: a proxy or a fake is not one). */
  const bufferBytes = (value: unknown) => brand(byteLength, value);
  const elements = (value: unknown) => brand(length, value);

  install('ArrayBuffer', NativeArrayBuffer as unknown as Constructor, (args) => {
    charge(count(args[0]));
    return args;
  });
  for (const name of TYPED_ARRAYS) {
    const Native = (globalThis as unknown as Record<string, Constructor | undefined>)[name];
    if (Native === undefined) continue;
    const size = (Native as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    install(name, Native, (args) => {
      const [source] = args;
      if (typeof source !== 'object' || source === null) {
        charge(count(source) * size);
        return args;
      }
      // A view on a buffer that exists allocates nothing.
      if (bufferBytes(source) !== undefined) return args;
      const n = elements(source);
      if (n !== undefined) {
        charge(n * size);
        return args;
      }
      // An iterable is read into a list first, as the native does (on the heap, under its
      // limit); an array-like's length is read once, so that a getter cannot lie about it.
      const iterable = typeof (source as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
      const items = iterable ? Array.from(source as Iterable<unknown>) : undefined;
      const length = items ? items.length : count((source as { length?: unknown }).length);
      charge(length * size);
      return [items ?? Array.from({ length }, (_, i) => (source as ArrayLike<unknown>)[i])];
    });
  }

  const proto = NativeArrayBuffer.prototype as unknown as Record<string, unknown>;
  /** Wraps a method of ArrayBuffer.prototype that makes `grow(this, args)` more bytes. */
  const growing = (name: string, grow: (current: number, args: unknown[]) => number) => {
    const native = proto[name];
    if (typeof native !== 'function') return;
    const wrapped = {
      [name](this: unknown, ...args: unknown[]): unknown {
        const current = bufferBytes(this);
        if (current !== undefined) charge(grow(current, args));
        return Reflect.apply(native, this, args);
      },
    }[name]!;
    Object.defineProperty(proto, name, { ...Object.getOwnPropertyDescriptor(proto, name), value: wrapped });
  };
  const toLength = (current: number, args: unknown[]) =>
    args[0] === undefined ? 0 : count(args[0]) - current;
  growing('resize', toLength);
  growing('transfer', toLength);
  growing('transferToFixedLength', toLength);
  growing('transferToImmutable', toLength);
  growing('sliceToImmutable', (current) => current);

  const Encoder = (globalThis as unknown as { TextEncoder?: { prototype: Record<string, unknown> } })
    .TextEncoder;
  const encode = Encoder?.prototype.encode;
  if (Encoder && typeof encode === 'function') {
    Object.defineProperty(Encoder.prototype, 'encode', {
      ...Object.getOwnPropertyDescriptor(Encoder.prototype, 'encode'),
      value: {
        encode(this: unknown, input?: unknown): Uint8Array {
          // Every UTF-16 unit is at least one UTF-8 byte: charged first, the rest once known.
          const text = input === undefined ? '' : String(input);
          charge(text.length);
          const bytes = Reflect.apply(encode, this, [text]) as Uint8Array;
          charge(bytes.byteLength - text.length);
          return bytes;
        },
      }.encode,
    });
  }
}

/** A charge function over `meter`: throws `PF_ERR_MEMORY` for an allocation over its limit. */
function charger(meter: BufferMeter): (bytes: number) => void {
  const slack = meter.limit / 16;
  /** Bytes held at the last measure, and charged since. */
  let held = 0;
  let since = Number.POSITIVE_INFINITY;
  let told = false;
  return (bytes) => {
    if (!(bytes > 0)) return;
    // Near the limit, every charge measures: what was freed meanwhile counts.
    if (since + bytes > slack || held + since + bytes > meter.limit) {
      held = meter.measure();
      since = 0;
    }
    if (held + bytes > meter.limit) {
      if (!told) meter.over(held + bytes, held);
      told = true;
      throw new ProtoflyError(
        'PF_ERR_MEMORY',
        `an allocation of ${bytes} bytes would take array buffers to ${held + bytes} bytes, over the limit of ${meter.limit}`,
        { bytes, held, limit: meter.limit },
      );
    }
    since += bytes;
  };
}

/**
 * Replaces the global constructor `name` with one that lets `admit` charge (and may rewrite)
 * its arguments, then constructs the native one. It stands wherever the native did (the
 * global, `prototype.constructor`, the static side), so `Symbol.species` and subclasses reach it.
 */
function install(name: string, Native: Constructor, admit: (args: unknown[]) => unknown[]): void {
  const Metered: Constructor = {
    [name]: function (this: unknown, ...args: unknown[]): object {
      // Called without new: the native throws its own TypeError.
      if (new.target === undefined) return Reflect.apply(Native, this, args) as object;
      const target: unknown = new.target;
      return Reflect.construct(Native, admit(args), target === Metered ? Native : new.target);
    },
  }[name] as unknown as Constructor;
  Object.setPrototypeOf(Metered, Object.getPrototypeOf(Native));
  for (const key of Reflect.ownKeys(Native)) {
    Object.defineProperty(Metered, key, Object.getOwnPropertyDescriptor(Native, key)!);
  }
  Object.defineProperty(Native.prototype, 'constructor', {
    ...Object.getOwnPropertyDescriptor(Native.prototype, 'constructor'),
    value: Metered,
  });
  Object.defineProperty(globalThis, name, {
    ...Object.getOwnPropertyDescriptor(globalThis, name),
    value: Metered,
  });
}

/** An allocation size as the natives read it (ToIndex); 0 for what they refuse anyway. */
function count(value: unknown): number {
  let n: number;
  try {
    n = Number(value);
  } catch {
    return 0;
  }
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function getter(target: object, key: string): (this: unknown) => number {
  return Object.getOwnPropertyDescriptor(target, key)!.get as (this: unknown) => number;
}

/** `get` applied to `value`, or undefined when `value` is not of its brand. */
function brand(get: (this: unknown) => number, value: unknown): number | undefined {
  try {
    return Reflect.apply(get, value, []);
  } catch {
    return undefined;
  }
}
