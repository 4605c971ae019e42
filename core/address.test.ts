import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress, userAddress } from './address.js';
import { isProtoflyError } from './errors.js';
import { validateAddress } from './generated/validators.js';

const VALID = [
  'user://b.example/bob',
  'user://localhost/alice%40home',
  'hyperty://b.example/4f1c-9a',
  'runtime://a.example/rt1',
  'runtime://a.example/rt1/sandbox/3',
  'domain://msg-node.b.example',
  'domain://msg-node.b.example/registry',
];

/** One malformed address of each kind, and what its error must name. */
const MALFORMED: readonly [string, RegExp][] = [
  ['b.example/bob', /no scheme/],
  ['sip://b.example/bob', /unknown scheme 'sip'/],
  ['user://B.Example/bob', /domain 'B.Example'/],
  ['user://b.example', /exactly 1 path segment/],
  ['user://b.example/bob/phone', /exactly 1 path segment.*got 2/],
  ['user://-bad.example/bob', /domain '-bad.example'/],
  ['hyperty://b.example/', /empty path segment/],
  ['hyperty://b.example/a b', /segment 'a b'/],
  ['hyperty:///x', /has no domain/],
  ['runtime://a.example', /at least 1 path segment/],
  ['runtime://a.example/rt1//x', /empty path segment/],
  ['domain://msg_node.b.example/x', /domain 'msg_node.b.example'/],
  ['domain://b.example/%zz', /segment '%zz'/],
  [`user://b.example/${'x'.repeat(600)}`, /longer than 512/],
];

describe('address', () => {
  it.each(VALID)('parses and formats %s back to itself', (text) => {
    expect(formatAddress(parseAddress(text))).toBe(text);
  });

  it('takes an address apart', () => {
    expect(parseAddress('runtime://a.example/rt1/sandbox/3')).toEqual({
      scheme: 'runtime',
      domain: 'a.example',
      path: ['rt1', 'sandbox', '3'],
    });
  });

  it.each(MALFORMED)('refuses %s with PF_ERR_ADDRESS naming the problem', (text, why) => {
    try {
      parseAddress(text);
      expect.unreachable();
    } catch (err) {
      expect(isProtoflyError(err, 'PF_ERR_ADDRESS')).toBe(true);
      expect((err as Error).message).toMatch(why);
    }
  });

  it('agrees with the schema pattern on every sample (one grammar, two spellings)', () => {
    for (const text of VALID) expect(validateAddress(text), text).toBe(true);
    for (const [text] of MALFORMED) expect(validateAddress(text), text).toBe(false);
  });

  it('refuses to format invalid parts', () => {
    expect(() => userAddress('b.example', 'bob smith')).toThrow(/PF_ERR_ADDRESS/);
    expect(userAddress('b.example', 'bob')).toBe('user://b.example/bob');
  });
});
