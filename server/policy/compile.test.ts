import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message, PolicyRule, PolicyRules, PolicyWindow } from '../../core/generated/types.js';
import { type Capability, capabilityOf, compilePolicy, type Decision } from './compile.js';

const DOMAIN = 'x.example';
const ALICE = `user://${DOMAIN}/alice`;
const BOB = `user://${DOMAIN}/bob`;
const DAVE = 'user://b.example/dave';
/** Monday 2026-11-30, 00:00 UTC. */
const MONDAY = Date.UTC(2026, 10, 30);
const HOUR = 3_600_000;

const decide = (rules: PolicyRules, from: string, to: string, capability?: Capability, now = MONDAY) =>
  compilePolicy(rules, DOMAIN).decide(from, to, capability, now);

describe('compilePolicy', () => {
  it('allows everything without rules, and refuses everything under default deny', () => {
    expect(decide({}, ALICE, BOB, 'chat')).toEqual({ rule: 'default', allowed: true });
    expect(decide({ default: 'deny' }, ALICE, BOB)).toEqual({
      rule: 'default',
      allowed: false,
      code: 'PF_ERR_FORBIDDEN',
    });
  });

  it('lets the first rule that matches decide', () => {
    const rules: PolicyRules = {
      rules: [
        { name: 'dave-to-bob', action: 'allow', from: [DAVE], to: [BOB] },
        { name: 'no-b', action: 'deny', from: ['user://b.example/*'] },
      ],
    };
    expect(decide(rules, DAVE, BOB).rule).toBe('dave-to-bob');
    expect(decide(rules, DAVE, ALICE)).toMatchObject({ rule: 'no-b', allowed: false });
    expect(decide(rules, ALICE, BOB)).toMatchObject({ rule: 'default', allowed: true });
  });

  it('matches groups; a hyperty recipient by its domain where no rule names users, else refused as unknown', () => {
    const byDomain: PolicyRules = {
      rules: [{ name: 'domain', action: 'deny', from: [DAVE], to: [`user://${DOMAIN}/*`] }],
    };
    expect(compilePolicy(byDomain, DOMAIN).namesRecipients).toBe(false);
    expect(decide(byDomain, ALICE, `hyperty://${DOMAIN}/h1`).rule).toBe('default');
    expect(decide(byDomain, DAVE, `hyperty://${DOMAIN}/h1`).rule).toBe('domain');
    const byUser: PolicyRules = {
      groups: { staff: [BOB] },
      rules: [{ name: 'staff', action: 'deny', to: ['group:staff'] }, ...byDomain.rules!],
    };
    expect(compilePolicy(byUser, DOMAIN).namesRecipients).toBe(true);
    expect(decide(byUser, ALICE, BOB).rule).toBe('staff');
    // Its domain alone would let Alice reach Bob through his hyperty: its user must be known.
    expect(decide(byUser, ALICE, `hyperty://${DOMAIN}/h1`)).toEqual({
      rule: 'unknown-recipient',
      allowed: false,
      code: 'PF_ERR_FORBIDDEN',
    });
    // An empty group names no one.
    const empty: PolicyRules = {
      groups: { none: [] },
      rules: [{ name: 'n', action: 'deny', to: ['group:none'] }],
    };
    expect(compilePolicy(empty, DOMAIN).namesRecipients).toBe(false);
  });

  it('tells calls from video, and leaves what starts nothing to rules without capabilities', () => {
    const rules: PolicyRules = { rules: [{ name: 'no-video', action: 'deny', capabilities: ['video'] }] };
    expect(decide(rules, ALICE, BOB, 'video').allowed).toBe(false);
    expect(decide(rules, ALICE, BOB, 'call').allowed).toBe(true);
    expect(decide(rules, ALICE, BOB, undefined).allowed).toBe(true);
  });

  it('applies a window on its days and hours, past midnight and in a time zone', () => {
    const night: PolicyRules = {
      rules: [{ name: 'night', action: 'deny', when: { days: ['mon'], start: '22:00', end: '06:00' } }],
    };
    expect(decide(night, ALICE, BOB, 'chat', MONDAY + 5 * HOUR).allowed).toBe(false);
    expect(decide(night, ALICE, BOB, 'chat', MONDAY + 6 * HOUR).allowed).toBe(true);
    expect(decide(night, ALICE, BOB, 'chat', MONDAY + 22 * HOUR).allowed).toBe(false);
    // Tuesday 01:00: the days are those of the moment looked at.
    expect(decide(night, ALICE, BOB, 'chat', MONDAY + 25 * HOUR).allowed).toBe(true);
    // Tokyo is UTC+9 all year: 09:00 there is 00:00 UTC.
    const tokyo: PolicyRules = {
      rules: [
        { name: 'office', action: 'deny', when: { start: '09:00', end: '10:00', timeZone: 'Asia/Tokyo' } },
      ],
    };
    expect(decide(tokyo, ALICE, BOB, 'chat', MONDAY).allowed).toBe(false);
    expect(decide(tokyo, ALICE, BOB, 'chat', MONDAY + HOUR).allowed).toBe(true);
  });

  it('holds each sender to a rule’s rate, a bucket each', () => {
    const policy = compilePolicy(
      { rules: [{ name: 'slow', action: 'allow', rate: { perSecond: 1, burst: 2 } }] },
      DOMAIN,
    );
    const at = (ms: number, from = ALICE) => policy.decide(from, BOB, 'chat', MONDAY + ms);
    expect([at(0), at(0), at(0)].map((d) => d.allowed)).toEqual([true, true, false]);
    expect(at(0)).toEqual({ rule: 'slow', allowed: false, code: 'PF_ERR_FLOOD', limit: 1 });
    expect(at(0, DAVE).allowed).toBe(true);
    expect(at(1000).allowed).toBe(true);
  });

  it('admits a guest unless the rules refuse it everything here', () => {
    const admits = (rules: PolicyRules) => compilePolicy(rules, DOMAIN).admits(DAVE, MONDAY);
    expect(admits({ rules: [{ name: 'no-b', action: 'deny', from: ['user://b.example/*'] }] })).toMatchObject(
      {
        rule: 'no-b',
        allowed: false,
      },
    );
    // Narrower denials are passed over; the default decides.
    const narrow: PolicyRule[] = [
      { name: 'not-bob', action: 'deny', from: [DAVE], to: [BOB] },
      { name: 'no-video', action: 'deny', capabilities: ['video'] },
    ];
    expect(admits({ rules: narrow })).toMatchObject({ rule: 'default', allowed: true });
    expect(admits({ rules: narrow, default: 'deny' })).toMatchObject({ rule: 'default', allowed: false });
    expect(
      admits({ default: 'deny', rules: [{ name: 'bob-only', action: 'allow', from: [DAVE], to: [BOB] }] }),
    ).toMatchObject({ rule: 'bob-only', allowed: true });
  });

  it('refuses rules that cannot be used, naming where', () => {
    const unusable = (rules: unknown) => {
      try {
        compilePolicy(rules, DOMAIN);
      } catch (err) {
        return err;
      }
    };
    expect(unusable({ rules: [{ name: 'a', action: 'allow', to: ['group:none'] }] })).toMatchObject({
      code: 'PF_ERR_RULES',
      detail: { pointer: '/rules/0/to/0' },
    });
    const twice = { name: 'a', action: 'allow' };
    expect(unusable({ rules: [twice, twice] })).toMatchObject({
      code: 'PF_ERR_RULES',
      detail: { pointer: '/rules/1/name' },
    });
    for (const name of ['default', 'unknown-recipient']) {
      expect(unusable({ rules: [{ name, action: 'allow' }] })).toMatchObject({
        code: 'PF_ERR_RULES',
        detail: { pointer: '/rules/0/name' },
      });
    }
    expect(unusable({ rules: [{ name: 'a', action: 'deny', rate: { perSecond: 1 } }] })).toMatchObject({
      code: 'PF_ERR_RULES',
      detail: { pointer: '/rules/0/rate' },
    });
    expect(
      unusable({ rules: [{ name: 'a', action: 'deny', when: { timeZone: 'Mars/Olympus' } }] }),
    ).toMatchObject({
      code: 'PF_ERR_RULES',
      detail: { pointer: '/rules/0/when/timeZone' },
    });
    expect(unusable({ rules: [{ name: 'a', action: 'deny', from: ['alice'] }] })).toMatchObject({
      code: 'PF_ERR_SCHEMA',
    });
  });
});

describe('capabilityOf', () => {
  const msg = (value: unknown): Message =>
    ({ id: 'm1', type: 'create', from: ALICE, to: BOB, body: { value } }) as Message;
  it('reads the body kind, an offer’s media, and a forwarded message’s own', () => {
    expect(capabilityOf(msg({ kind: 'chat', text: 'hi' }))).toBe('chat');
    expect(capabilityOf(msg({ kind: 'offer', callId: 'c', sdp: 'v=0', media: ['audio'] }))).toBe('call');
    expect(capabilityOf(msg({ kind: 'offer', callId: 'c', sdp: 'v=0', media: ['audio', 'video'] }))).toBe(
      'video',
    );
    expect(capabilityOf(msg({ kind: 'answer', callId: 'c', sdp: 'v=0' }))).toBeUndefined();
    expect(capabilityOf(msg('text'))).toBeUndefined();
    const forward = {
      id: 'm2',
      type: 'forward',
      from: ALICE,
      to: BOB,
      body: { message: msg({ kind: 'chat' }) },
    };
    expect(capabilityOf(forward as Message)).toBe('chat');
  });
});

// --- The reference: the rules read as written, every time, with nothing compiled. ---

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function selects(rules: PolicyRules, selector: string, address: string): boolean {
  if (selector === '*') return true;
  if (selector.startsWith('group:')) return (rules.groups?.[selector.slice(6)] ?? []).includes(address);
  if (selector.endsWith('/*')) return selector.split('/')[2] === address.split('/')[2];
  return selector === address;
}

function inWindow(w: PolicyWindow, now: number): boolean {
  const at = new Date(now);
  if (!(w.days ?? DAY_NAMES).includes(DAY_NAMES[at.getUTCDay()]!)) return false;
  const [sh, sm] = (w.start ?? '00:00').split(':').map(Number);
  const [eh, em] = (w.end ?? '24:00').split(':').map(Number);
  const t = at.getUTCHours() * 60 + at.getUTCMinutes();
  const start = sh! * 60 + sm!;
  const end = eh! * 60 + em!;
  return start < end ? start <= t && t < end : t >= start || t < end;
}

type Buckets = Map<string, { tokens: number; last: number }>;

function referenceDecide(
  rules: PolicyRules,
  buckets: Buckets,
  from: string,
  to: string,
  capability: Capability | undefined,
  now: number,
): Decision {
  const namesUser = (s: string) =>
    s.startsWith('group:') ? (rules.groups?.[s.slice(6)]?.length ?? 0) > 0 : s !== '*' && !s.endsWith('/*');
  const namesUsers = (rules.rules ?? []).some((r) => r.to?.some(namesUser));
  if (namesUsers && to.startsWith('hyperty://')) {
    return { rule: 'unknown-recipient', allowed: false, code: 'PF_ERR_FORBIDDEN' };
  }
  for (const r of rules.rules ?? []) {
    if (r.capabilities && !(capability && r.capabilities.includes(capability))) continue;
    if (r.from && !r.from.some((s) => selects(rules, s, from))) continue;
    if (r.to && !r.to.some((s) => selects(rules, s, to))) continue;
    if (r.when && !inWindow(r.when, now)) continue;
    if (r.action === 'deny') return { rule: r.name, allowed: false, code: 'PF_ERR_FORBIDDEN' };
    if (r.rate) {
      const burst = r.rate.burst ?? Math.max(1, Math.floor(r.rate.perSecond));
      const key = `${r.name} ${from}`;
      const b = buckets.get(key) ?? { tokens: burst, last: now };
      b.tokens = Math.min(burst, b.tokens + ((now - b.last) * r.rate.perSecond) / 1000);
      b.last = now;
      buckets.set(key, b);
      if (b.tokens < 1)
        return { rule: r.name, allowed: false, code: 'PF_ERR_FLOOD', limit: r.rate.perSecond };
      b.tokens -= 1;
    }
    return { rule: r.name, allowed: true };
  }
  return rules.default === 'deny'
    ? { rule: 'default', allowed: false, code: 'PF_ERR_FORBIDDEN' }
    : { rule: 'default', allowed: true };
}

function referenceAdmits(rules: PolicyRules, from: string, now: number): Decision {
  for (const r of rules.rules ?? []) {
    if (r.from && !r.from.some((s) => selects(rules, s, from))) continue;
    if (r.when && !inWindow(r.when, now)) continue;
    if (r.action === 'allow') return { rule: r.name, allowed: true };
    const everyone = !r.to || r.to.includes('*') || r.to.includes(`user://${DOMAIN}/*`);
    if (everyone && !r.capabilities) return { rule: r.name, allowed: false, code: 'PF_ERR_FORBIDDEN' };
  }
  return referenceDecide({ default: rules.default ?? 'allow' }, new Map(), from, from, undefined, now);
}

const USERS = [ALICE, BOB, `user://${DOMAIN}/carol`, DAVE, 'user://b.example/erin'];
const RECIPIENTS = [...USERS, `hyperty://${DOMAIN}/h1`, 'hyperty://b.example/h2'];
const SELECTORS = [
  '*',
  ...USERS,
  `user://${DOMAIN}/*`,
  'user://b.example/*',
  'user://c.example/*',
  'group:g1',
  'group:g2',
];
/** Minutes of the day windows start and end on, and messages are sent at: boundaries get hit. */
const MINUTES = [0, 1, 359, 360, 361, 570, 1319, 1320, 1439];
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
const time = fc.constantFrom(...MINUTES).map(hhmm);
const window: fc.Arbitrary<PolicyWindow> = fc.record(
  {
    days: fc.uniqueArray(fc.constantFrom(...DAY_NAMES.slice(1), 'sun'), { minLength: 1 }),
    start: time,
    end: fc.oneof(time, fc.constant('24:00')),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<PolicyWindow>;
const selectors = fc.uniqueArray(fc.constantFrom(...SELECTORS), { minLength: 1, maxLength: 3 });
const rule = fc
  .record(
    {
      action: fc.constantFrom('allow', 'deny'),
      from: selectors,
      to: selectors,
      capabilities: fc.uniqueArray(fc.constantFrom('chat', 'call', 'video'), { minLength: 1 }),
      when: window,
      rate: fc.record({
        perSecond: fc.double({ min: 0.5, max: 5, noNaN: true }),
        burst: fc.integer({ min: 1, max: 3 }),
      }),
    },
    { requiredKeys: ['action'] },
  )
  .map((r) => (r.action === 'deny' ? { ...r, rate: undefined } : r));
const policyRules: fc.Arbitrary<PolicyRules> = fc
  .record({
    default: fc.constantFrom('allow', 'deny'),
    groups: fc.record({
      g1: fc.uniqueArray(fc.constantFrom(...USERS)),
      g2: fc.uniqueArray(fc.constantFrom(...USERS)),
    }),
    rules: fc.array(rule, { maxLength: 6 }),
  })
  .map((p) => ({
    ...p,
    rules: p.rules.map(
      (r, i) =>
        Object.fromEntries(
          Object.entries({ name: `r${i}`, ...r }).filter(([, v]) => v !== undefined),
        ) as unknown as PolicyRule,
    ),
  }));
const requestFields = {
  from: fc.constantFrom(...USERS),
  to: fc.constantFrom(...RECIPIENTS),
  capability: fc.constantFrom<Capability | undefined>('chat', 'call', 'video', undefined),
  // A day of the week, a minute of MINUTES, and up to 1.5 s into it: messages close together go over rates.
  at: fc
    .tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom(...MINUTES), fc.integer({ min: 0, max: 1500 }))
    .map(([day, minute, ms]) => MONDAY + day * 24 * HOUR + minute * 60_000 + ms),
};
const request = fc.record(requestFields);

describe('compilePolicy against a plain reading of the rules', () => {
  it('decides every message as the reference does, rates included', () => {
    fc.assert(
      fc.property(policyRules, fc.array(request, { minLength: 1, maxLength: 40 }), (rules, requests) => {
        const compiled = compilePolicy(rules, DOMAIN);
        const buckets: Buckets = new Map();
        for (const r of requests.sort((a, b) => a.at - b.at)) {
          expect(compiled.decide(r.from, r.to, r.capability, r.at)).toEqual(
            referenceDecide(rules, buckets, r.from, r.to, r.capability, r.at),
          );
          expect(compiled.admits(r.from, r.at)).toEqual(referenceAdmits(rules, r.from, r.at));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('a hyperty recipient cannot get past a rule on its user', () => {
  it('is decided as any user of its domain where no rule names users, and refused where one does', () => {
    const hyperties = [`hyperty://${DOMAIN}/h1`, 'hyperty://b.example/h2'];
    fc.assert(
      fc.property(
        policyRules,
        fc.array(fc.record({ ...requestFields, to: fc.constantFrom(...hyperties) }), { maxLength: 30 }),
        (rules, requests) => {
          // Two policies fed the same messages, so that their rate buckets stay alike.
          const asHyperty = compilePolicy(rules, DOMAIN);
          const asUser = compilePolicy(rules, DOMAIN);
          for (const r of requests.sort((a, b) => a.at - b.at)) {
            const d = asHyperty.decide(r.from, r.to, r.capability, r.at);
            if (asHyperty.namesRecipients && rules.rules!.length > 0) {
              expect(d).toMatchObject({ rule: 'unknown-recipient', allowed: false });
            } else {
              const someUser = `user://${r.to.split('/')[2]}/anyone`;
              expect(d).toEqual(asUser.decide(r.from, someUser, r.capability, r.at));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
