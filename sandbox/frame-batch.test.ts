import { describe, expect, it } from 'vitest';
import { batched, each } from './frame-batch.js';

describe('batched', () => {
  it('sends a lone frame at once, as itself', () => {
    const sent: unknown[] = [];
    const post = batched<number>((s) => sent.push(s));
    post(1);
    expect(sent).toEqual([1]);
  });

  it('sends the first frame of a turn at once and the others together after it, in order', async () => {
    const sent: unknown[] = [];
    const post = batched<number>((s) => sent.push(s));
    post(1);
    post(2);
    post(3);
    expect(sent).toEqual([1]);
    await Promise.resolve();
    expect(sent).toEqual([1, [2, 3]]);
    // A second frame alone goes as itself; the next turn starts afresh.
    post(4);
    post(5);
    await Promise.resolve();
    post(6);
    expect(sent).toEqual([1, [2, 3], 4, 5, 6]);
  });

  it('is undone by each, frame by frame, whichever way they went', async () => {
    const got: number[] = [];
    const receive = each<number>((f) => got.push(f));
    const post = batched<number>(receive);
    for (let i = 0; i < 5; i++) post(i);
    await Promise.resolve();
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });
});
