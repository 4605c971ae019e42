import { describe, expect, it } from 'vitest';
import { Answers } from './answers.js';

describe('Answers', () => {
  it('finds the answer to a request by its sender and id, the latest first, and forgets the oldest beyond capacity', () => {
    const answers = new Answers<string>(3);
    answers.add('alice', '1', 'a1');
    answers.add('bob', '1', 'b1');
    answers.add('alice', '1', 'a1 again');
    expect([answers.get('alice', '1'), answers.get('bob', '1'), answers.get('carol', '1')]).toEqual([
      'a1 again',
      'b1',
      undefined,
    ]);
    answers.add('alice', '2', 'a2'); // forgets ('alice', '1', 'a1')
    answers.add('alice', '3', 'a3'); // forgets ('bob', '1')
    expect([answers.get('bob', '1'), answers.get('alice', '1'), answers.get('alice', '3')]).toEqual([
      undefined,
      'a1 again',
      'a3',
    ]);
  });
});
