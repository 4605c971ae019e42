import type { Logger } from 'pino';
import type { PolicyRules } from '../../core/generated/types.js';
import { type Capability, type CompiledPolicy, compilePolicy, type Decision } from './compile.js';

/** Decisions taken under one rule name, since the process started: each counted once, in one of the three. */
export interface PolicyCount {
  allowed: number;
  /** Refused by a deny (PF_ERR_FORBIDDEN). */
  refused: number;
  /** Refused over the rule's rate (PF_ERR_FLOOD). */
  flood: number;
}

/**
 * A domain's policy in force: its rules compiled, replaced whole while serving (the REST API's
 * PUT), decisions logged (debug) and counted by rule name (counts outlive a change of rules, so
 * the metrics stay monotonic). The messaging node and the guest services each hold one.
 */
export class Policy {
  readonly #domain: string;
  readonly #log: Logger | undefined;
  #rules: PolicyRules;
  #compiled: CompiledPolicy;
  readonly #counts = new Map<string, PolicyCount>();

  /**
   * @throws ProtoflyError `PF_ERR_SCHEMA`, `PF_ERR_RULES` for rules that cannot be used.
   */
  constructor(domain: string, rules: PolicyRules = {}, log?: Logger) {
    this.#domain = domain;
    this.#log = log;
    this.#compiled = compilePolicy(rules, domain);
    this.#rules = rules;
  }

  /** The rules in force, as given. */
  get rules(): PolicyRules {
    return this.#rules;
  }

  /**
   * Puts `rules` in force for every decision from now on, compiled first: rules that cannot be
   * used are refused and those in force stay. Rate buckets start anew.
   *
   * @throws ProtoflyError `PF_ERR_SCHEMA`, `PF_ERR_RULES`.
   */
  replace(rules: unknown): PolicyRules {
    this.#compiled = compilePolicy(rules, this.#domain);
    this.#rules = rules as PolicyRules;
    return this.#rules;
  }

  /** Whether a hyperty recipient is to be decided as its user (see CompiledPolicy.namesRecipients). */
  get namesRecipients(): boolean {
    return this.#compiled.namesRecipients;
  }

  /** The decision on a message from the user `from` to `to` (see CompiledPolicy.decide). */
  decide(from: string, to: string, capability: Capability | undefined, now = Date.now()): Decision {
    const d = this.#compiled.decide(from, to, capability, now);
    this.#count(d);
    if (this.#log?.isLevelEnabled('debug')) {
      this.#log.debug({ from, to, capability, rule: d.rule, allowed: d.allowed }, 'policy decision');
    }
    return d;
  }

  /** Whether the foreign user `from` may have a guest account (see CompiledPolicy.admits). */
  admits(from: string, now = Date.now()): Decision {
    const d = this.#compiled.admits(from, now);
    this.#count(d);
    this.#log?.[d.allowed ? 'debug' : 'info'](
      { guest: from, rule: d.rule, allowed: d.allowed },
      'policy decision on a guest',
    );
    return d;
  }

  /** Decisions so far by rule name (`default` for the default decision). */
  counts(): ReadonlyMap<string, Readonly<PolicyCount>> {
    return this.#counts;
  }

  #count(d: Decision): void {
    let count = this.#counts.get(d.rule);
    if (!count) {
      count = { allowed: 0, refused: 0, flood: 0 };
      this.#counts.set(d.rule, count);
    }
    if (d.allowed) count.allowed++;
    else if (d.code === 'PF_ERR_FLOOD') count.flood++;
    else count.refused++;
  }
}
