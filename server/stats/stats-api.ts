import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import { type AdminGate, adminEndpoint, notAllowed, reply } from '../messaging-node/admin-api.js';
import { PAGE_CSP, PAGE_CSS, statsPage } from './page.js';
import { type StatsSources, statistics, statsRange } from './statistics.js';

/** Where the API and the page live on the admin port. */
export const STATS_PATH = '/stats/';

/**
 * The statistics on a node's admin port, for the domain's administrators:
 *
 * - `GET /stats/v1/summary?from=<ISO 8601>&to=<ISO 8601>&bucket=hour|day` → 200 `Stats`
 *   (schemas/stats.schema.json); a query that cannot be used is a 400 `PF_ERR_SCHEMA`
 * - `GET /stats/` → the page: the same figures with charts, HTML with SVG drawn here and no
 *   script (its query in the same parameters, a refused one said on the page with a 400)
 * - `GET /stats/stats.css` → the page's stylesheet
 *
 * Every request passes the admin port's gate (admin-api.ts); a browser asks for the
 * credentials on the page's 401 and sends them with the stylesheet.
 */
export function statsApi(
  sources: StatsSources,
  gate: AdminGate,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return adminEndpoint(gate, log, 'statistics', async (req, res, _by, url) => {
    if (req.method !== 'GET') throw notAllowed(res, req, 'GET');
    if (url.pathname === `${STATS_PATH}v1/summary`) {
      return reply(res, 200, await statistics(sources, statsRange(url.searchParams)));
    }
    if (url.pathname === STATS_PATH) return page(res, sources, url.searchParams);
    if (url.pathname === `${STATS_PATH}stats.css`) {
      return void res
        .writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-store' })
        .end(PAGE_CSS);
    }
    throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${url.pathname}`);
  });
}

/** The page; a refused query is said on it, with its status, instead of the figures. */
async function page(res: ServerResponse, sources: StatsSources, query: URLSearchParams): Promise<void> {
  let status = 200;
  let html: string;
  try {
    html = statsPage(sources.domain, query, await statistics(sources, statsRange(query)));
  } catch (err) {
    const e = asProtoflyError(err, 'PF_ERR_INTERNAL');
    if (e.status === 500) throw err;
    status = e.status;
    html = statsPage(sources.domain, query, undefined, e.message);
  }
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': PAGE_CSP,
    'cache-control': 'no-store',
  });
  res.end(html);
}
