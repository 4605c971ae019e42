import type { Stats, StatsBreakdown, StatsFigures } from '../../core/generated/types.js';

/**
 * What the page is served under: no script at all (the charts are SVG drawn here, on the
 * server), its stylesheet from the admin port, forms to itself only.
 */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The page's stylesheet, served at /stats/stats.css. */
export const PAGE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
form{display:flex;gap:.75rem;align-items:end;flex-wrap:wrap}label{display:flex;flex-direction:column;font-size:.85rem}
.error{color:#a00;font-weight:bold}
dl.totals{display:grid;grid-template-columns:repeat(4,auto);gap:.25rem 1rem;justify-content:start}
dl.totals dt{color:#555}dl.totals dd{margin:0;font-weight:bold}
table{border-collapse:collapse}th,td{padding:.2rem .6rem;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}
figure{margin:1rem 0}svg text{font-size:11px;fill:#444}
.legend svg{margin-left:1rem;vertical-align:middle}`;

/** One series of a chart: its name, colour and value per bucket. */
interface Series {
  readonly name: string;
  readonly colour: string;
  readonly value: (f: StatsFigures) => number;
}

const CONVERSATIONS: readonly Series[] = [
  { name: 'calls', colour: '#2b6cb0', value: (f) => f.calls.count },
  { name: 'chats', colour: '#38a169', value: (f) => f.chats.count },
];
const OUTCOMES: readonly Series[] = [
  { name: 'answered', colour: '#2f855a', value: (f) => f.calls.answered },
  { name: 'refused', colour: '#c05621', value: (f) => f.calls.refused },
  { name: 'failed', colour: '#c53030', value: (f) => f.calls.failed },
];

const WIDTH = 760;
const HEIGHT = 220;
const PAD = { left: 40, right: 10, top: 10, bottom: 30 };

/**
 * The statistics page: the query's form, the totals, two bar charts by bucket (conversations;
 * call outcomes) and tables by protocol, stub, foreign domain, policy rule and refusal code.
 * `error` is said above the form instead of the figures (a query that was refused).
 */
export function statsPage(domain: string, query: URLSearchParams, stats?: Stats, error?: string): string {
  const field = (name: string, label: string, hint: string) =>
    `<label>${label}<input name="${name}" value="${esc(query.get(name) ?? '')}" placeholder="${hint}" size="24"></label>`;
  const bucket = query.get('bucket') ?? 'hour';
  const form = `<form method="get" action="/stats/">
${field('from', 'From (ISO 8601)', '24 hours ago')}
${field('to', 'To (ISO 8601)', 'now')}
<label>Bucket<select name="bucket">${['hour', 'day']
    .map((b) => `<option${b === bucket ? ' selected' : ''}>${b}</option>`)
    .join('')}</select></label>
<button type="submit">Show</button></form>`;
  const body = stats ? figuresHtml(stats) : `<p class="error" role="alert">${esc(error ?? '')}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Statistics: ${esc(domain)}</title>
<link rel="stylesheet" href="/stats/stats.css"></head>
<body><h1>Statistics of ${esc(domain)}</h1>
${form}
${body}
</body></html>`;
}

function figuresHtml(s: Stats): string {
  const t = s.total;
  const d = t.calls.durations;
  const item = (id: string, label: string, value: string) => `<dt>${label}</dt><dd id="${id}">${value}</dd>`;
  return `<p id="range">Conversations that started from <time>${s.from}</time> to <time>${s.to}</time>, by ${s.bucket} (UTC).</p>
<dl class="totals">
${item('total-calls', 'Calls', String(t.calls.count))}
${item('total-answered', 'Answered', String(t.calls.answered))}
${item('total-refused', 'Refused', String(t.calls.refused))}
${item('total-failed', 'Failed', String(t.calls.failed))}
${item('total-chats', 'Chats', String(t.chats.count))}
${item('total-messages', 'Messages', String(t.chats.messages + t.calls.messages))}
${item('total-duration', 'Call time', seconds(d.totalMs))}
${item('mean-duration', 'Mean call', seconds(d.meanMs))}
${item('p50-duration', 'Median call', seconds(d.p50Ms))}
${item('p95-duration', '95th percentile', seconds(d.p95Ms))}
</dl>
<h2>Conversations by ${s.bucket}</h2>
${chart('chart-conversations', s, CONVERSATIONS)}
<h2>Call outcomes by ${s.bucket}</h2>
${chart('chart-outcomes', s, OUTCOMES)}
<h2>By protocol</h2>${breakdown('by-protocol', 'protocol', s.protocols)}
<h2>By stub</h2>${breakdown('by-stub', 'stub', s.stubs)}
<h2>By foreign domain</h2>${breakdown('by-domain', 'domain', s.domains)}
<h2>Policy decisions (since the node started)</h2>
<p id="policy">allowed ${s.policy.allowed}, refused ${s.policy.refused}, over a rate ${s.policy.flood}</p>
${table(
  'by-rule',
  ['rule', 'allowed', 'refused', 'flood'],
  Object.entries(s.policy.rules).map(([rule, n]) => [rule, n!.allowed, n!.refused, n!.flood]),
)}
<h2>Refusals by code (since the node started)</h2>
${table(
  'refusals',
  ['code', 'refused'],
  Object.entries(s.refusals).map(([code, n]) => [code, n ?? 0]),
)}`;
}

/**
 * A bar chart, a group of bars per bucket (one per series), each bar a `rect` with its series,
 * bucket and value as data attributes and a tooltip; the y axis from 0 to the largest value.
 */
function chart(id: string, s: Stats, series: readonly Series[]): string {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(1, ...s.buckets.flatMap((b) => series.map((x) => x.value(b.figures))));
  const slot = plotW / Math.max(1, s.buckets.length);
  const barW = (slot * 0.8) / series.length;
  // At most about eight labels on the x axis, whatever the number of buckets.
  const every = Math.max(1, Math.ceil(s.buckets.length / 8));
  const parts: string[] = [];
  s.buckets.forEach((b, i) => {
    const x0 = PAD.left + i * slot + slot * 0.1;
    series.forEach((x, j) => {
      const v = x.value(b.figures);
      const h = (v / max) * plotH;
      parts.push(
        `<rect class="bar" data-series="${x.name}" data-bucket="${b.start}" data-value="${v}" x="${(x0 + j * barW).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${x.colour}"><title>${x.name} ${label(b.start, s.bucket)}: ${v}</title></rect>`,
      );
    });
    if (i % every === 0) {
      parts.push(
        `<text x="${(x0 + slot * 0.4).toFixed(1)}" y="${HEIGHT - 10}" text-anchor="middle">${label(b.start, s.bucket)}</text>`,
      );
    }
  });
  const axis = `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotH}" stroke="#888"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#888"/>
<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${max}</text>
<text x="${PAD.left - 6}" y="${PAD.top + plotH}" text-anchor="end">0</text>`;
  // Colours as SVG attributes: the policy allows no inline style.
  const legend = series
    .map(
      (x) =>
        `<svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${x.colour}"/></svg> ${x.name}`,
    )
    .join(' ');
  return `<figure id="${id}"><svg role="img" aria-label="${series.map((x) => x.name).join(', ')} by ${s.bucket}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">
${axis}
${parts.join('\n')}
</svg><figcaption class="legend">${legend}</figcaption></figure>`;
}

function breakdown(id: string, what: string, groups: StatsBreakdown): string {
  return table(
    id,
    [what, 'chats', 'calls', 'answered', 'refused', 'failed', 'mean call', 'p95 call'],
    Object.entries(groups).map(([name, f]) => [
      name,
      f!.chats.count,
      f!.calls.count,
      f!.calls.answered,
      f!.calls.refused,
      f!.calls.failed,
      seconds(f!.calls.durations.meanMs),
      seconds(f!.calls.durations.p95Ms),
    ]),
  );
}

function table(id: string, head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  if (!rows.length) return `<p id="${id}">None.</p>`;
  const cells = (row: readonly (string | number)[], tag: string) =>
    `<tr>${row.map((c) => `<${tag}>${esc(String(c))}</${tag}>`).join('')}</tr>`;
  return `<table id="${id}"><thead>${cells(head, 'th')}</thead><tbody>${rows.map((r) => cells(r, 'td')).join('')}</tbody></table>`;
}

/** A bucket's label: its hour (HH:00) or day (YYYY-MM-DD), UTC. */
function label(iso: string, bucket: Stats['bucket']): string {
  return bucket === 'hour' ? iso.slice(11, 16) : iso.slice(0, 10);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Text for HTML, in an element or an attribute. */
function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
