import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse, type SipMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { TimerQueue } from '../timers/timer-queue.js';
import { createResponse } from '../user-agent-core/responses.js';
import type { InviteClientTransaction } from './invite-client-transaction.js';
import { TransactionLayer } from './transaction-layer.js';

/** RFC 3261's default T1: Timers B, F, H, L, M are 64·T1 = 32 s, on vitest's clock. */
const T1 = 500;

const queues: TimerQueue[] = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const q of queues.splice(0)) q.clear();
  vi.useRealTimers();
});

/** A layer whose transport records what it sends (or refuses when `down`). */
function layer(down = false) {
  const sent: SipMessage[] = [];
  const timers = new TimerQueue(
    {
      setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as number,
      clearTimeout: (id) => clearTimeout(id),
    },
    (err) => {
      throw err;
    },
  );
  queues.push(timers);
  const l = new TransactionLayer(
    (m) => {
      if (down) return false;
      sent.push(m);
      return true;
    },
    timers,
    T1,
  );
  return { l, sent };
}

/** A user that records what its client transaction told it. */
function user() {
  const told: string[] = [];
  return {
    told,
    onResponse: (r: SipResponse) => told.push(String(r.status)),
    onTimeout: () => told.push('timeout'),
    onTransportError: (sent: boolean) => told.push(sent ? 'transport after sending' : 'transport'),
  };
}

const request = (method: string, branch = 'z9hG4bKabc') =>
  parse(
    [
      `${method} sip:bob@c.example SIP/2.0`,
      `Via: SIP/2.0/WS x.invalid;branch=${branch}`,
      'Max-Forwards: 70',
      'To: <sip:bob@c.example>',
      'From: <sip:alice@c.example>;tag=1928',
      'Call-ID: a84b4c76e66710',
      `CSeq: 1 ${method}`,
      'Route: <sip:127.0.0.1:5066;transport=ws;lr>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  ) as SipRequest;

describe('client transactions (RFC 3261 §17.1)', () => {
  it('non-INVITE: provisional and final responses reach the user, then the transaction is gone (Timer K = 0)', () => {
    const { l, sent } = layer();
    const u = user();
    const req = request('MESSAGE');
    l.send(req, u);
    expect(sent).toEqual([req]);
    expect(l.receiveResponse(createResponse(req, 100))).toBe(true);
    expect(l.receiveResponse(createResponse(req, 200, { toTag: 't' }))).toBe(true);
    expect(l.receiveResponse(createResponse(req, 200, { toTag: 't' }))).toBe(false);
    expect(u.told).toEqual(['100', '200']);
    expect(l.size).toBe(0);
  });

  it('matches responses by branch and CSeq method (§17.1.3): a CANCEL’s response is not its INVITE’s', () => {
    const { l } = layer();
    const invite = request('INVITE');
    const u = user();
    l.send(invite, u);
    const cancel = request('CANCEL');
    const c = user();
    l.send(cancel, c);
    l.receiveResponse(createResponse(cancel, 200, { toTag: 't' }));
    expect(u.told).toEqual([]);
    expect(c.told).toEqual(['200']);
    expect(l.receiveResponse(createResponse(request('INVITE', 'z9hG4bKother'), 180))).toBe(false);
  });

  it('Timer F (64·T1) times a non-INVITE out; a transport that cannot send is a transport error', () => {
    const { l } = layer();
    const u = user();
    l.send(request('MESSAGE'), u);
    vi.advanceTimersByTime(64 * T1 - 1);
    expect(u.told).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(u.told).toEqual(['timeout']);
    const down = layer(true);
    const v = user();
    down.l.send(request('MESSAGE'), v);
    expect(v.told).toEqual([]); // told on the next turn, not from inside send
    vi.advanceTimersByTime(0);
    expect(v.told).toEqual(['transport']);
  });

  it('INVITE: a 3xx-6xx is ACKed by the transaction with its branch and the response’s To tag (§17.1.1.3)', () => {
    const { l, sent } = layer();
    const u = user();
    const invite = request('INVITE');
    l.send(invite, u);
    l.receiveResponse(createResponse(invite, 180, { toTag: 'callee' }));
    l.receiveResponse(createResponse(invite, 486, { toTag: 'callee' }));
    expect(u.told).toEqual(['180', '486']);
    const ack = sent[1] as SipRequest;
    expect(ack.method).toBe('ACK');
    expect(ack.via.params.get('branch')).toBe('z9hG4bKabc');
    expect(ack.to.params.get('tag')).toBe('callee');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.headers.get('Route')).toBe('<sip:127.0.0.1:5066;transport=ws;lr>');
    expect(l.size).toBe(0);
  });

  it('INVITE: a 2xx goes to Accepted (RFC 6026); its retransmissions reach the user, who ACKs them, until Timer M', () => {
    const { l, sent } = layer();
    const u = user();
    const invite = request('INVITE');
    const t = l.send(invite, u) as InviteClientTransaction;
    const ok = createResponse(invite, 200, { toTag: 'callee' });
    l.receiveResponse(ok);
    expect(t.state).toBe('accepted');
    l.receiveResponse(ok);
    expect(u.told).toEqual(['200', '200']);
    expect(sent).toHaveLength(1); // no ACK from the transaction for a 2xx
    vi.advanceTimersByTime(64 * T1 - 1);
    expect(t.state).toBe('accepted');
    vi.advanceTimersByTime(1);
    expect(t.state).toBe('terminated');
    // Timer B only runs while Calling: the 2xx came before it, so no timeout was told.
    expect(u.told).toEqual(['200', '200']);
  });
});

describe('server transactions (RFC 3261 §17.2)', () => {
  it('INVITE: sends 100 Trying at once; a retransmission gets the last response again; the ACK of a non-2xx ends it', () => {
    const { l, sent } = layer();
    const invite = request('INVITE');
    expect(l.receiveRequest(invite)).toBe(false);
    const t = l.receive(invite);
    expect((sent[0] as SipResponse).status).toBe(100);
    expect((sent[0] as SipResponse).to.params.has('tag')).toBe(false);
    expect(l.receiveRequest(invite)).toBe(true);
    expect(sent).toHaveLength(2);
    t.respond(createResponse(invite, 486, { toTag: 'me' }));
    expect(l.receiveRequest(invite)).toBe(true);
    expect((sent.at(-1) as SipResponse).status).toBe(486);
    expect(l.receiveRequest(request('ACK'))).toBe(true);
    expect(l.size).toBe(0);
  });

  it('INVITE: after a 2xx (Accepted) retransmitted INVITEs are absorbed and the ACK goes to the TU', () => {
    const { l, sent } = layer();
    const invite = request('INVITE');
    const t = l.receive(invite);
    t.respond(createResponse(invite, 200, { toTag: 'me' }));
    const count = sent.length;
    expect(l.receiveRequest(invite)).toBe(true);
    expect(sent).toHaveLength(count);
    expect(l.receiveRequest(request('ACK'))).toBe(false);
  });

  it('finds the INVITE a CANCEL is for (§9.2), and a non-INVITE ends at its final response (Timer J = 0)', () => {
    const { l } = layer();
    const invite = request('INVITE');
    const t = l.receive(invite);
    expect(l.cancelled(request('CANCEL'))).toBe(t);
    expect(l.cancelled(request('CANCEL', 'z9hG4bKelse'))).toBeUndefined();
    const message = request('MESSAGE', 'z9hG4bKmsg');
    const m = l.receive(message);
    m.respond(createResponse(message, 200, { toTag: 'me' }));
    expect(l.receiveRequest(message)).toBe(false);
  });

  it('a lost connection ends every transaction, telling each client user its request had gone', () => {
    const { l } = layer();
    const u = user();
    const v = user();
    l.send(request('INVITE'), u);
    l.send(request('MESSAGE', 'z9hG4bKout'), v);
    l.receive(request('MESSAGE', 'z9hG4bKin'));
    l.abort();
    expect(u.told).toEqual(['transport after sending']);
    expect(v.told).toEqual(['transport after sending']);
    expect(l.size).toBe(0);
  });
});
