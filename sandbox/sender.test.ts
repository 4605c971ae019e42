import { describe, expect, it } from 'vitest';
import { allowSenders } from './sender.js';

describe('allowSenders', () => {
  const can = allowSenders(['user://b.example/bob', 'hyperty://b.example/']);

  it('allows exact addresses and addresses under a prefix', () => {
    expect(can('user://b.example/bob')).toBe(true);
    expect(can('hyperty://b.example/123')).toBe(true);
  });

  it('refuses anything else', () => {
    expect(can('user://b.example/bobby')).toBe(false);
    expect(can('user://a.example/alice')).toBe(false);
    expect(can('hyperty://b.example/')).toBe(false);
    expect(can('hyperty://b.example.evil/1')).toBe(false);
    expect(can('user://b.example/')).toBe(false);
  });

  it('refuses everything when given nothing', () => {
    expect(allowSenders([])('user://b.example/bob')).toBe(false);
  });
});
