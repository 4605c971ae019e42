import type { Arbitrary } from 'fast-check';

/**
 * What the conformance suite's hostile server sends: frames made from the stub's own protocol
 * (its samples), broken in every way a server can break them, and garbage.
 */

/** fast-check, loaded when the hostile property runs: a stub's tests have it, a runtime need not. */
export async function fastCheck(): Promise<typeof import('fast-check').default> {
  try {
    return (await import('fast-check')).default;
  } catch (err) {
    throw new Error(
      `the hostile-frames property needs fast-check: npm install -D fast-check (${(err as Error).message})`,
    );
  }
}

/** Frames a hostile server sends: the stub's own, mutated, truncated or swapped; any JSON; bytes; huge ones. */
export function hostileFrames(
  fc: typeof import('fast-check').default,
  samples: readonly string[],
): Arbitrary<string | Uint8Array> {
  const sample = fc.constantFrom(...samples);
  const edits = fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 6 })), { maxLength: 4 });
  const mutate = (text: string, changes: readonly (readonly [number, string])[]) => {
    let out = text;
    for (const [at, insert] of changes) {
      const i = at % (out.length + 1);
      out = out.slice(0, i) + insert + out.slice(i + 1);
    }
    return out;
  };
  return fc.oneof(
    { arbitrary: fc.tuple(sample, edits).map(([t, e]) => mutate(t, e)), weight: 6 },
    { arbitrary: sample, weight: 1 },
    { arbitrary: fc.tuple(sample, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))), weight: 1 },
    // A sample's JSON with one value swapped for any JSON (a field of the wrong type, null) or dropped.
    {
      arbitrary: fc
        .tuple(sample, fc.option(fc.jsonValue(), { nil: undefined }), fc.nat())
        .map(([t, v, n]) => swapValue(t, v, n)),
      weight: 3,
    },
    { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary' }), weight: 1 },
    fc.constantFrom('', ' ', '\r\n', '\r\n\r\n', 'null', '{}', '[]'),
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 10_000, max: 200_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.tuple(sample, fc.integer({ min: 10_000, max: 200_000 })).map(([t, n]) => t + 'x'.repeat(n)),
  );
}

/** `text` (JSON) with its `n`th value, at any depth, replaced by `value` (dropped when undefined); `text` itself when not JSON. */
function swapValue(text: string, value: unknown, n: number): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const slots: [Record<string, unknown>, string][] = [];
  const walk = (x: unknown) => {
    if (typeof x !== 'object' || x === null) return;
    for (const [k, v] of Object.entries(x)) {
      slots.push([x as Record<string, unknown>, k]);
      walk(v);
    }
  };
  walk(parsed);
  if (slots.length === 0) return JSON.stringify(value);
  const [holder, key] = slots[n % slots.length]!;
  if (value === undefined) delete holder[key];
  else holder[key] = value;
  return JSON.stringify(parsed);
}
