import { isProtoflyError, ProtoflyError } from '../../../../core/errors.js';

/**
 * How the SIP message layer refuses: always a `PF_ERR_SIP_PARSE` {@link ProtoflyError}, whose
 * `detail.problem` is the bare reason (so an outer layer can say which header it was in) and
 * `detail.status` the response a UAS answers with.
 */

/** `s` quoted for an error message, cut short when long, control characters made visible. */
export function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

/** Throws the coded refusal. */
export function fail(problem: string, detail: Record<string, unknown> = {}): never {
  throw new ProtoflyError('PF_ERR_SIP_PARSE', problem, { status: 400, problem, ...detail });
}

/**
 * Re-throws `err` as a refusal of `value`, the text of `what` (`Via header`, `Request-URI`),
 * naming both; `detail` says where it was (`{ header: 'Via' }`).
 */
export function within(err: unknown, what: string, value: string, detail: Record<string, unknown>): never {
  if (!isProtoflyError(err, 'PF_ERR_SIP_PARSE')) internal(err);
  throw new ProtoflyError(
    'PF_ERR_SIP_PARSE',
    `${what} ${show(value)}: ${String(err.detail.problem)}`,
    { ...err.detail, ...detail, value },
    { cause: err },
  );
}

/** Turns anything that is not already a coded refusal into one: the layer never throws anything else. */
export function internal(err: unknown): never {
  if (isProtoflyError(err)) throw err;
  throw new ProtoflyError(
    'PF_ERR_SIP_PARSE',
    `the SIP parser failed unexpectedly (${String(err)})`,
    { status: 400, problem: 'internal' },
    { cause: err },
  );
}
