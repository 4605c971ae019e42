import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.js';

describe('SseParser', () => {
  it('dispatches on a blank line, joins data lines, names unnamed events message, skips comments', () => {
    const p = new SseParser();
    expect(p.push(': ping\n\nevent: publish\ndata: {"a":1}\n\ndata: x\ndata:y\n\n')).toEqual([
      { event: 'publish', data: '{"a":1}' },
      { event: 'message', data: 'x\ny' },
    ]);
  });

  it('takes any line ending, including a CRLF split between chunks, and lines split anywhere', () => {
    const p = new SseParser();
    expect(p.push('event: a\r')).toEqual([]);
    expect(p.push('\ndata: 1\r\n\r')).toEqual([]);
    expect(p.push('\nda')).toEqual([{ event: 'a', data: '1' }]);
    // A CR that ends a chunk may be half a CRLF: the blank line counts once the next chunk shows it is not.
    expect(p.push('ta: 2\r\r')).toEqual([]);
    expect(p.push(':')).toEqual([{ event: 'message', data: '2' }]);
  });

  it('dispatches nothing for an event without data, keeps retry, and refuses an endless line', () => {
    const p = new SseParser();
    expect(p.push('retry: 1500\nevent: x\n\n')).toEqual([]);
    expect(p.retryMs).toBe(1500);
    expect(() => p.push('x'.repeat(70_000))).toThrow(RangeError);
  });
});
