import { describe, expect, it } from 'vitest';
import { isProtoflyError, type ProtoflyError } from './errors.js';
import type { Message } from './generated/types.js';
import { validateConversationBody, validateMessage } from './generated/validators.js';
import { assertMessage, Code, nextId, request, response } from './message.js';

const A = 'hyperty://a.example/alice-1';
const B = 'user://b.example/bob';

/** A valid message of each of the nine types. */
const VALID: Record<Message['type'], Message> = {
  create: request('create', A, B, { resource: 'chat', value: { kind: 'chat', text: 'hi' } }),
  read: request('read', A, B, { resource: 'presence' }),
  update: request('update', A, B, { attribute: 'status', value: 'away' }),
  delete: request('delete', A, B, { resource: 'chat/1' }),
  subscribe: request('subscribe', A, B, { resource: 'presence' }),
  unsubscribe: request('unsubscribe', A, B, {}),
  response: response(request('read', A, B, {}), 200, undefined, { ok: true }),
  forward: request('forward', A, B, { message: request('read', A, B, {}) }),
  execute: request('execute', A, B, { method: 'ping', params: [1] }),
};

/** For each type, a broken message and the JSON pointer its error must name. */
const BROKEN: Record<Message['type'], [unknown, string]> = {
  create: [{ ...VALID.create, body: {} }, '/body/value'],
  read: [{ ...VALID.read, body: { resource: 7 } }, '/body/resource'],
  update: [{ ...VALID.update, body: { attribute: '', value: 1 } }, '/body/attribute'],
  delete: [{ ...VALID.delete, to: 'b.example/bob' }, '/to'],
  subscribe: [{ ...VALID.subscribe, body: { resource: 'x', extra: 1 } }, '/body'],
  unsubscribe: [{ ...VALID.unsubscribe, from: 'user://b.example' }, '/from'],
  response: [{ ...VALID.response, body: { code: 99 } }, '/body/code'],
  forward: [{ ...VALID.forward, body: { message: { ...VALID.read, type: 'nope' } } }, '/body/message'],
  execute: [{ ...VALID.execute, body: { method: '1bad' } }, '/body/method'],
};

function schemaError(fn: () => void): ProtoflyError {
  try {
    fn();
  } catch (err) {
    if (isProtoflyError(err, 'PF_ERR_SCHEMA')) return err;
    throw err;
  }
  throw new Error('expected PF_ERR_SCHEMA');
}

describe('message', () => {
  it.each(Object.entries(VALID))('accepts a valid %s message', (_type, msg) => {
    expect(validateMessage(msg)).toBe(true);
  });

  it.each(Object.entries(BROKEN))('rejects a broken %s message naming the field', (_type, [msg, pointer]) => {
    const err = schemaError(() => assertMessage(msg));
    expect(err.detail.pointer).toBe(pointer);
    expect(err.message).toContain(pointer);
  });

  it('rejects an unknown type, a missing id and extra top-level fields', () => {
    expect(schemaError(() => assertMessage({ ...VALID.read, type: 'publish' })).message).toMatch(
      /unknown type "publish"/,
    );
    const { id: _id, ...noId } = VALID.read;
    expect(schemaError(() => assertMessage(noId)).detail.pointer).toBe('/id');
    expect(schemaError(() => assertMessage({ ...VALID.read, via: A })).message).toMatch(
      /unknown property 'via'/,
    );
  });

  it('builds a response that reuses the id and swaps from and to', () => {
    const req = VALID.create;
    const res = response(req, Code.OK);
    expect(res).toEqual({
      id: req.id,
      type: 'response',
      from: B,
      to: A,
      body: { code: 200, description: 'OK' },
    });
  });

  it('makes unique ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, nextId));
    expect(ids.size).toBe(1000);
  });

  it('makes ids nobody can predict from the ones before: no shared prefix, every character uniform', () => {
    // Enough ids to span several random batches.
    const ids = Array.from({ length: 5000 }, nextId);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Consecutive ids share no more leading characters than chance allows (a counter or a
    // per-realm prefix would share many).
    const shared = ids.slice(1).map((id, i) => {
      let n = 0;
      while (n < id.length && id[n] === ids[i]![n]) n++;
      return n;
    });
    expect(Math.max(...shared)).toBeLessThan(5);
    // Each position is uniform over the 64 characters: a chi-squared test per position (63
    // degrees of freedom; 130 is beyond p = 1e-6), and no position is constant.
    const expected = ids.length / 64;
    for (let pos = 0; pos < 22; pos++) {
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id[pos]!, (counts.get(id[pos]!) ?? 0) + 1);
      let chi2 = 0;
      for (const c of alphabet) chi2 += ((counts.get(c) ?? 0) - expected) ** 2 / expected;
      expect(chi2, `position ${pos}`).toBeLessThan(130);
    }
    // Bits of one id say nothing about the next: the next id's first character agrees with the
    // previous one's first character about 1/64 of the time.
    const agree = ids.slice(1).filter((id, i) => id[0] === ids[i]![0]).length / (ids.length - 1);
    expect(agree).toBeLessThan(0.04);
  });

  it('validates the canonical conversation bodies', () => {
    expect(validateConversationBody({ kind: 'offer', callId: 'c1', sdp: 'v=0\r\n' })).toBe(true);
    expect(validateConversationBody({ kind: 'presence', status: 'online' })).toBe(true);
    expect(validateConversationBody({ kind: 'offer', callId: 'c1' })).toBe(false);
    expect(validateConversationBody.errors?.[0]?.params).toEqual({ missingProperty: 'sdp' });
    expect(validateConversationBody({ kind: 'reject', code: 200 })).toBe(false);
    expect(validateConversationBody.errors?.[0]?.instancePath).toBe('/code');
  });
});
