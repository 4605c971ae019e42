import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeConfirmations, encodeDeliveries } from './wire.js';

describe('cluster-redis wire', () => {
  it('carries frames as their exact bytes, newlines and UTF-8 included', () => {
    const frames = ['{"t":"msg","m":{"text":"a\\nb"}}', Buffer.from('{"text":"héllo ✓\n"}')];
    const batch = decodeBatch(
      encodeDeliveries('n1', [
        { seq: 1, session: 'n1.1', frame: frames[0]! },
        { seq: 2, session: 'n1.2', frame: frames[1]! },
      ]),
    );
    expect(batch?.kind).toBe('deliveries');
    if (batch?.kind !== 'deliveries') return;
    expect(batch.from).toBe('n1');
    expect(batch.items.map((i) => [i.seq, i.session, Buffer.from(i.frame).toString()])).toEqual([
      [1, 'n1.1', frames[0]],
      [2, 'n1.2', frames[1]!.toString()],
    ]);
  });

  it('carries confirmations, and refuses junk and truncated batches', () => {
    expect(
      decodeBatch(
        encodeConfirmations('n2', [
          [1, true],
          [7, false],
        ]),
      ),
    ).toEqual({
      kind: 'confirmations',
      from: 'n2',
      results: [
        [1, true],
        [7, false],
      ],
    });
    expect(decodeBatch(Buffer.from('hello'))).toBeUndefined();
    const whole = encodeDeliveries('n1', [{ seq: 1, session: 's', frame: 'x'.repeat(10) }]);
    expect(decodeBatch(whole.subarray(0, whole.length - 5))).toBeUndefined();
  });
});
