import { describe, expect, it, vi } from 'vitest';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import { request } from '../message.js';
import { response } from '../response.js';
import { answer } from './answer.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const context = (from?: readonly string[]) =>
  new DirectContext({ address: ALICE, config: {}, session: new DirectSession(), ...(from ? { from } : {}) });

describe('answer', () => {
  it("sends the far side's response to a request that will not go: same id, from and to swapped", () => {
    const ctx = context();
    const req = request('create', ALICE, BOB, { value: { kind: 'chat', text: 'hi' } });
    answer(ctx, req, 503, 'the node is unreachable');
    answer(ctx, req, 200);
    expect(ctx.received).toEqual([
      {
        id: req.id,
        type: 'response',
        from: BOB,
        to: ALICE,
        body: { code: 503, description: 'the node is unreachable' },
      },
      { id: req.id, type: 'response', from: BOB, to: ALICE, body: { code: 200, description: 'OK' } },
    ]);
  });

  it('never answers a response, and never throws when the runtime refuses the answer: it logs both', () => {
    const ctx = context([BOB]);
    const warn = vi.spyOn(ctx.log, 'warn');
    const res = response(request('read', ALICE, BOB, {}), 200);
    answer(ctx, res, 503, 'cannot go');
    expect(warn).toHaveBeenLastCalledWith('response not delivered', {
      id: res.id,
      code: 503,
      description: 'cannot go',
    });
    // This conversation may send only from Bob: an answer from Carol is refused (PF_ERR_SPOOF).
    const req = request('create', ALICE, 'user://c.example/carol', { value: { kind: 'chat', text: 'hi' } });
    expect(() => answer(ctx, req, 503)).not.toThrow();
    expect(warn).toHaveBeenLastCalledWith('could not answer', expect.objectContaining({ id: req.id }));
    expect(ctx.received).toEqual([]);
  });
});
