import { ProtoflyError } from '../../core/errors.js';
import type { Message, PolicyRules, PolicySelectors, PolicyWindow } from '../../core/generated/types.js';
import { validatePolicyRules } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import { TokenBucket } from '../services/token-bucket.js';

/** What a message does, as rules name it (schemas/policy-rules.schema.json `capabilities`). */
export type Capability = 'chat' | 'call' | 'video';

/** The name the default decision is logged and counted under. */
export const DEFAULT_RULE = 'default';
/**
 * The name a hyperty recipient whose user is not known is refused under, when the rules name
 * recipient users (see CompiledPolicy.namesRecipients).
 */
export const UNKNOWN_RECIPIENT_RULE = 'unknown-recipient';

/**
 * One decision. Each rule has one object per outcome, made when the rules are compiled, so
 * deciding allocates nothing.
 */
export interface Decision {
  /** The rule that decided, or `default`. */
  readonly rule: string;
  readonly allowed: boolean;
  /** Why refused: a `deny` (PF_ERR_FORBIDDEN), or over the rule's rate (PF_ERR_FLOOD). */
  readonly code?: 'PF_ERR_FORBIDDEN' | 'PF_ERR_FLOOD';
  /** The rate gone over (messages a second), with PF_ERR_FLOOD. */
  readonly limit?: number;
}

/** The rules compiled: first match decides. */
export interface CompiledPolicy {
  /**
   * Whether some rule's `to` names users (a user, or a group with members): a hyperty recipient
   * is then decided as the user it belongs to, which its caller resolves first (the node, from
   * Location's bindings), since its domain alone could let a message past a rule on that user.
   */
  readonly namesRecipients: boolean;
  /**
   * The decision on a message from the user `from` to `to` (a user:// address, or a hyperty's
   * user as `namesRecipients` asks) of `capability` (none: a message that starts nothing) at
   * `now` (ms since the epoch); takes from the deciding rule's rate. A hyperty:// `to` is
   * matched by its domain where no rule names users; where one does, it is refused under
   * `unknown-recipient` (fail closed: its user is not known).
   */
  decide(from: string, to: string, capability: Capability | undefined, now: number): Decision;
  /**
   * Whether the foreign user `from` may have a guest account: refused only when the rules
   * refuse everything it could send here. The first rule that matches it as sender (at `now`)
   * admits it if it allows; refuses it if it denies everyone of the domain (`to` absent, `*`
   * or `user://<domain>/*`, no `capabilities`); a narrower denial is passed over. No rate is taken.
   */
  admits(from: string, now: number): Decision;
}

/** Senders one rule keeps a rate bucket for; past it the oldest is dropped (it starts full again). */
const MAX_SENDERS = 10_000;
const CAPABILITY_BITS: Readonly<Record<Capability, number>> = { chat: 1, call: 2, video: 4 };
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

interface Matcher {
  readonly any: boolean;
  readonly users: ReadonlySet<string>;
  readonly domains: ReadonlySet<string>;
}

interface Window {
  /** Bit n: day n of `Date.getUTCDay()` (0 Sunday). */
  readonly days: number;
  readonly start: number;
  readonly end: number;
  /** Local time in a zone other than UTC. */
  readonly zone: Intl.DateTimeFormat | undefined;
}

interface Rule {
  readonly from: Matcher | undefined;
  readonly to: Matcher | undefined;
  /** 0: every message, capability or none. */
  readonly capabilities: number;
  readonly window: Window | undefined;
  readonly deny: boolean;
  readonly rate: { readonly perSecond: number; readonly burst: number } | undefined;
  readonly buckets: Map<string, TokenBucket>;
  readonly allowed: Decision;
  readonly refused: Decision;
  readonly flood: Decision;
}

/**
 * Compiles a domain's policy rules once: selectors into sets (groups expanded), capabilities
 * into bits, windows into minutes and a time-zone formatter; a message then costs a few set
 * lookups per rule tried.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` when `rules` is not a PolicyRules, `PF_ERR_RULES` when
 *   it is one that cannot be used (both naming the JSON pointer).
 */
export function compilePolicy(rules: unknown, domain: string): CompiledPolicy {
  assertValid(validatePolicyRules, rules, 'policy rules');
  const groups = rules.groups ?? {};
  const names = new Set<string>([DEFAULT_RULE, UNKNOWN_RECIPIENT_RULE]);
  const compiled = (rules.rules ?? []).map((r, i): Rule => {
    const at = `/rules/${i}`;
    if (names.has(r.name)) {
      throw unusable(`${at}/name`, `'${r.name}' is ${reserved(r.name) ?? 'taken by an earlier rule'}`);
    }
    names.add(r.name);
    if (r.rate && r.action === 'deny') throw unusable(`${at}/rate`, 'a deny rule has no rate');
    const rate = r.rate && {
      perSecond: r.rate.perSecond,
      burst: r.rate.burst ?? Math.max(1, Math.floor(r.rate.perSecond)),
    };
    return {
      from: r.from && matcher(r.from, groups, `${at}/from`),
      to: r.to && matcher(r.to, groups, `${at}/to`),
      capabilities: (r.capabilities ?? []).reduce<number>((bits, c) => bits | CAPABILITY_BITS[c], 0),
      window: r.when && window(r.when, `${at}/when`),
      deny: r.action === 'deny',
      rate,
      buckets: new Map(),
      allowed: { rule: r.name, allowed: true },
      refused: { rule: r.name, allowed: false, code: 'PF_ERR_FORBIDDEN' },
      flood: { rule: r.name, allowed: false, code: 'PF_ERR_FLOOD', limit: r.rate?.perSecond ?? 0 },
    };
  });
  const byDefault: Decision =
    rules.default === 'deny'
      ? { rule: DEFAULT_RULE, allowed: false, code: 'PF_ERR_FORBIDDEN' }
      : { rule: DEFAULT_RULE, allowed: true };
  const namesRecipients = compiled.some((r) => r.to !== undefined && r.to.users.size > 0);
  const unknownRecipient: Decision = {
    rule: UNKNOWN_RECIPIENT_RULE,
    allowed: false,
    code: 'PF_ERR_FORBIDDEN',
  };

  return {
    namesRecipients,
    decide(from, to, capability, now) {
      if (compiled.length === 0) return byDefault;
      if (namesRecipients && to.startsWith('hyperty://')) return unknownRecipient;
      const fromDomain = domainOf(from);
      const toDomain = domainOf(to);
      const bit = capability ? CAPABILITY_BITS[capability] : 0;
      for (const rule of compiled) {
        if (rule.capabilities !== 0 && (rule.capabilities & bit) === 0) continue;
        if (rule.from && !matches(rule.from, from, fromDomain)) continue;
        if (rule.to && !matches(rule.to, to, toDomain)) continue;
        if (rule.window && !within(rule.window, now)) continue;
        if (rule.deny) return rule.refused;
        if (rule.rate && !bucketOf(rule, from, now).take(now)) return rule.flood;
        return rule.allowed;
      }
      return byDefault;
    },
    admits(from, now) {
      const fromDomain = domainOf(from);
      for (const rule of compiled) {
        if (rule.from && !matches(rule.from, from, fromDomain)) continue;
        if (rule.window && !within(rule.window, now)) continue;
        if (!rule.deny) return rule.allowed;
        const everyone = !rule.to || rule.to.any || rule.to.domains.has(domain);
        if (everyone && rule.capabilities === 0) return rule.refused;
      }
      return byDefault;
    },
  };
}

/**
 * The capability of a message: its body value's kind (conversation.schema.json), a forwarded
 * message's that of the one it carries.
 */
export function capabilityOf(m: Message): Capability | undefined {
  // A forward carries a whole message; the node bounds how deep they nest (maxJsonDepth).
  while (m.type === 'forward') m = m.body.message;
  const value = (m.body as { value?: unknown }).value as
    | { kind?: unknown; media?: unknown }
    | null
    | undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (value.kind === 'chat') return 'chat';
  if (value.kind !== 'offer') return undefined;
  return Array.isArray(value.media) && value.media.includes('video') ? 'video' : 'call';
}

/** The domain of a user:// or hyperty:// address, unchecked (the node checked it). */
function domainOf(address: string): string {
  const start = address.indexOf('://') + 3;
  return address.slice(start, address.indexOf('/', start));
}

function matches(m: Matcher, address: string, domain: string): boolean {
  return m.any || m.users.has(address) || m.domains.has(domain);
}

function matcher(
  selectors: PolicySelectors,
  groups: NonNullable<PolicyRules['groups']>,
  at: string,
): Matcher {
  const users = new Set<string>();
  const domains = new Set<string>();
  let any = false;
  for (const [i, s] of selectors.entries()) {
    if (s === '*') any = true;
    else if (s.startsWith('group:')) {
      const members = Object.hasOwn(groups, s.slice(6)) ? groups[s.slice(6)] : undefined;
      if (!members) throw unusable(`${at}/${i}`, `no group '${s.slice(6)}' in /groups`);
      for (const u of members) users.add(u);
    } else if (s.endsWith('/*')) domains.add(domainOf(s));
    else users.add(s);
  }
  return { any, users, domains };
}

function window(w: PolicyWindow, at: string): Window {
  let zone: Intl.DateTimeFormat | undefined;
  const timeZone = w.timeZone ?? 'UTC';
  if (timeZone !== 'UTC') {
    try {
      zone = new Intl.DateTimeFormat('en-US', {
        timeZone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      throw unusable(`${at}/timeZone`, `'${timeZone}' is not a time zone this server knows`);
    }
  }
  let days = 0;
  for (const d of w.days ?? DAYS) days |= 1 << DAYS.indexOf(d);
  return { days, start: minutes(w.start ?? '00:00'), end: minutes(w.end ?? '24:00'), zone };
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Whether `now` is in the window: its day, and its minute between start (in) and end (out). */
function within(w: Window, now: number): boolean {
  let day: number;
  let minute: number;
  if (w.zone) {
    const parts = w.zone.formatToParts(now);
    const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
    day = DAYS.indexOf(part('weekday').toLowerCase() as (typeof DAYS)[number]);
    minute = Number(part('hour')) * 60 + Number(part('minute'));
  } else {
    // UTC without a Date: the epoch's day was a Thursday (day 4).
    day = (Math.floor(now / DAY_MS) + 4) % 7;
    minute = Math.floor((now % DAY_MS) / MINUTE_MS);
  }
  if ((w.days & (1 << day)) === 0) return false;
  return w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end;
}

function bucketOf(rule: Rule, from: string, now: number): TokenBucket {
  let bucket = rule.buckets.get(from);
  if (bucket) return bucket;
  if (rule.buckets.size >= MAX_SENDERS) rule.buckets.delete(rule.buckets.keys().next().value!);
  bucket = new TokenBucket(rule.rate!.perSecond, rule.rate!.burst, now);
  rule.buckets.set(from, bucket);
  return bucket;
}

/** Why a rule may not be named `name`, if it may not: names of the decisions no rule makes. */
function reserved(name: string): string | undefined {
  if (name === DEFAULT_RULE) return 'the default decision';
  if (name === UNKNOWN_RECIPIENT_RULE) return 'the refusal of a hyperty recipient whose user is not known';
  return undefined;
}

function unusable(pointer: string, reason: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_RULES', `policy rules: ${pointer} ${reason}`, { pointer });
}
