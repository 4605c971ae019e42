import { describe, expect, it } from 'vitest';
import { assertTransition, STATUS_TRANSITIONS, type StubStatus } from './stub.js';

describe('stub status', () => {
  it.each<[StubStatus, StubStatus]>([
    ['created', 'connecting'],
    ['connecting', 'live'],
    ['live', 'disconnected'],
    ['disconnected', 'live'],
    ['disconnected', 'connecting'],
    ['live', 'failed'],
    ['failed', 'stopped'],
  ])('allows %s → %s', (from, to) => {
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it.each<[StubStatus, StubStatus]>([
    ['stopped', 'live'],
    ['failed', 'live'],
    ['live', 'connecting'],
    ['live', 'created'],
  ])('refuses %s → %s with PF_ERR_STATUS', (from, to) => {
    expect(() => assertTransition(from, to)).toThrow(
      `PF_ERR_STATUS: a stub cannot go from '${from}' to '${to}'`,
    );
  });

  it('has a terminal stopped state and no unknown states', () => {
    expect(STATUS_TRANSITIONS.stopped).toEqual([]);
    const states = new Set(Object.keys(STATUS_TRANSITIONS));
    for (const next of Object.values(STATUS_TRANSITIONS).flat()) expect(states.has(next)).toBe(true);
  });
});
