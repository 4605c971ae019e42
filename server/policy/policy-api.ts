import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ProtoflyError } from '../../core/errors.js';
import type { PolicyRules } from '../../core/generated/types.js';
import { type AdminGate, adminEndpoint, notAllowed, readJson, reply } from '../messaging-node/admin-api.js';
import type { Policy } from './policy.js';

/** Where the API lives on the admin port. */
export const POLICY_PATH = '/policy/v1/rules';
/** Rules can be long (a thousand rules, groups of thousands): more room than a user change. */
const MAX_RULES_BYTES = 1024 * 1024;

/**
 * The policy REST API, on a node's admin port:
 *
 * - `GET /policy/v1/rules` → 200 `PolicyRules` (schemas/policy-rules.schema.json), those in force
 * - `PUT /policy/v1/rules` with a `PolicyRules` → 200, the rules now in force
 *
 * A PUT replaces the rules whole and takes effect for the next message, no restart; rules
 * that cannot be used are refused (400 `PF_ERR_SCHEMA`, `PF_ERR_RULES`) and those in force
 * stay. The node that answered puts them in force, then `share`s them with the domain's other
 * nodes (its Cluster service), which put them in force as they hear them; the answer comes
 * once they are shared. Should sharing fail (Redis unreachable), the answer is that failure
 * and the rules are in force on this node only: PUT them again. Administrators, refusals and
 * failures as every admin API has them (messaging-node/admin-api.ts).
 */
export function policyApi(
  policy: Policy,
  gate: AdminGate,
  log: Logger,
  share: (rules: PolicyRules) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return adminEndpoint(gate, log, 'policy', async (req, res, by, url) => {
    if (url.pathname !== POLICY_PATH) {
      throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${req.url}`);
    }
    if (req.method === 'GET') return reply(res, 200, policy.rules);
    if (req.method !== 'PUT') throw notAllowed(res, req, 'GET, PUT');
    const rules = policy.replace(await readJson(req, MAX_RULES_BYTES));
    log.info({ by, rules: rules.rules?.length ?? 0 }, 'policy rules changed');
    await share(rules);
    return reply(res, 200, rules);
  });
}
