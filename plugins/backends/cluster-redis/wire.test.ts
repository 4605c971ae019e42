import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './wire.js';

describe('cluster-redis wire', () => {
  it('carries frames as their exact bytes, newlines and UTF-8 included', () => {
    const frames = ['{"t":"msg","m":{"text":"a\\nb"}}', Buffer.from('{"text":"héllo ✓\n"}')];
    const batch = decodeBatch(
      encodeBatch(
        'n1',
        [],
        [
          { seq: 1, session: 'n1.1', frame: frames[0]! },
          { seq: 2, session: 'n1.2', frame: frames[1]!, heldFirst: 'user://b.example/bob' },
        ],
      ),
    );
    expect(batch?.kind).toBe('batch');
    if (batch?.kind !== 'batch') return;
    expect(batch.from).toBe('n1');
    expect(batch.results).toEqual([]);
    expect(batch.items.map((i) => [i.seq, i.session, Buffer.from(i.frame).toString(), i.heldFirst])).toEqual([
      [1, 'n1.1', frames[0], undefined],
      [2, 'n1.2', frames[1]!.toString(), 'user://b.example/bob'],
    ]);
  });

  it('carries confirmations alone or with deliveries, and refuses junk and truncated batches', () => {
    const results: [number, boolean][] = [
      [1, true],
      [7, false],
    ];
    expect(decodeBatch(encodeBatch('n2', results, []))).toEqual({
      kind: 'batch',
      from: 'n2',
      results,
      items: [],
    });
    const both = decodeBatch(encodeBatch('n2', results, [{ seq: 3, session: 's', frame: 'x' }]));
    expect(both?.kind === 'batch' && [both.results, both.items.length]).toEqual([results, 1]);
    expect(decodeBatch(Buffer.from('hello'))).toBeUndefined();
    const whole = encodeBatch('n1', [], [{ seq: 1, session: 's', frame: 'x'.repeat(10) }]);
    expect(decodeBatch(whole.subarray(0, whole.length - 5))).toBeUndefined();
  });

  it('reads a group message: its sessions and the frame once', () => {
    const batch = decodeBatch(Buffer.from('G n1\nn2.1 n2.4\n{"t":"msg"}'));
    expect(batch?.kind === 'group' && [batch.from, batch.sessions, batch.frame.toString()]).toEqual([
      'n1',
      ['n2.1', 'n2.4'],
      '{"t":"msg"}',
    ]);
  });
});
