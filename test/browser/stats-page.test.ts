/**
 * The statistics page of the admin port in a real Chromium (Debian's /usr/bin/chromium, driven
 * by playwright-core): real chats and calls through a real node make CDRs, and the page shows
 * their figures, with a chart's bars for each bucket, under its Content Security Policy (no
 * script; its stylesheet from the admin port). Without Chromium the test fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FOREIGN, ROOT, type StatsDomains, startStatsDomains } from '../support/stats-domain.js';
import { launchChromium } from './launch.js';

let world: StatsDomains;
let context: BrowserContext;
let profile: string;
/** Content Security Policy violations Chromium reported. */
const violations: string[] = [];

beforeAll(async () => {
  world = await startStatsDomains();
  profile = await mkdtemp(join(tmpdir(), 'pf-stats-chromium-'));
  context = await launchChromium(profile);
}, 180_000);
afterAll(async () => {
  await context?.close();
  await world?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** A page that signs in as the domain's administrator, as a browser does after the 401's prompt. */
async function adminPage(): Promise<Page> {
  const page = await context.newPage();
  await page.setExtraHTTPHeaders({ authorization: `Basic ${Buffer.from(ROOT).toString('base64')}` });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  return page;
}

/** The values of a chart's bars of one series, by bucket. */
function bars(page: Page, chart: string, series: string): Promise<Record<string, number>> {
  return page.$$eval(`#${chart} rect.bar[data-series="${series}"]`, (rects) =>
    Object.fromEntries(
      rects.map((r) => [r.getAttribute('data-bucket'), Number(r.getAttribute('data-value'))]),
    ),
  );
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

describe('the statistics page in Chromium', { timeout: 120_000 }, () => {
  it('shows the figures of the chats and calls made through the node, with a bar per bucket', async () => {
    const page = await adminPage();
    const res = await page.goto(`${world.domain.adminUrl}/stats/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    const text = (id: string) => page.locator(`#${id}`).innerText();
    expect(await text('total-calls')).toBe('2');
    expect(await text('total-answered')).toBe('1');
    expect(await text('total-refused')).toBe('1');
    expect(await text('total-failed')).toBe('0');
    expect(await text('total-chats')).toBe('2');
    expect(await text('total-messages')).toBe('8');
    const answered = (await world.domain.services.cdr.list()).find((r) => r.callId === world.calls.answered)!;
    const duration = `${((answered.end! - answered.start) / 1000).toFixed(1)} s`;
    expect(await text('p50-duration')).toBe(duration);
    expect(await text('p95-duration')).toBe(duration);

    // One bar per bucket and series: the 24 hours to now (25 buckets when not on the hour).
    const calls = await bars(page, 'chart-conversations', 'calls');
    const chats = await bars(page, 'chart-conversations', 'chats');
    const buckets = Object.keys(calls);
    expect(buckets.length).toBeGreaterThanOrEqual(24);
    expect(buckets.length).toBeLessThanOrEqual(25);
    expect(Object.keys(chats)).toEqual(buckets);
    expect([sum(calls), sum(chats)]).toEqual([2, 2]);
    // The bars of the busy bucket have a height; the empty ones none.
    const heights = await page.$$eval('#chart-conversations rect.bar[data-series="calls"]', (rects) =>
      rects.map((r) => [Number(r.getAttribute('data-value')), r.getBoundingClientRect().height]),
    );
    expect(heights.every(([v, h]) => v! > 0 === h! > 0)).toBe(true);
    const outcomes = {
      answered: sum(await bars(page, 'chart-outcomes', 'answered')),
      refused: sum(await bars(page, 'chart-outcomes', 'refused')),
      failed: sum(await bars(page, 'chart-outcomes', 'failed')),
    };
    expect(outcomes).toEqual({ answered: 1, refused: 1, failed: 0 });

    const row = (table: string, name: string) =>
      page.$$eval(
        `#${table} tbody tr`,
        (rows, n) =>
          rows
            .map((r) => Array.from((r as HTMLTableRowElement).cells, (c) => c.textContent))
            .find((cells) => cells[0] === n),
        name,
      );
    // domain, chats, calls, answered, refused, failed, mean, p95.
    expect(await row('by-domain', FOREIGN)).toEqual([FOREIGN, '1', '1', '1', '0', '0', duration, duration]);
    expect((await row('by-protocol', 'json-ws'))?.slice(1, 6)).toEqual(['2', '2', '1', '1', '0']);
    // The stylesheet loaded under the page's policy, and nothing was refused.
    expect(await page.$eval('table', (t) => getComputedStyle(t).borderCollapse)).toBe('collapse');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('takes another range and bucket from its form, and says why a query is refused', async () => {
    const page = await adminPage();
    await page.goto(`${world.domain.adminUrl}/stats/`);
    const day = 86_400_000;
    const today = Math.floor(Date.now() / day) * day;
    await page.fill('input[name="from"]', new Date(today - 2 * day).toISOString().slice(0, 10));
    await page.fill('input[name="to"]', new Date(today + day).toISOString().slice(0, 10));
    await page.selectOption('select[name="bucket"]', 'day');
    await Promise.all([page.waitForURL(/bucket=day/), page.click('button[type="submit"]')]);
    const calls = await bars(page, 'chart-conversations', 'calls');
    // Three days, today's with the calls.
    expect(calls).toEqual({
      [new Date(today - 2 * day).toISOString()]: 0,
      [new Date(today - day).toISOString()]: 0,
      [new Date(today).toISOString()]: 2,
    });

    const refused = await page.goto(`${world.domain.adminUrl}/stats/?from=yesterday`);
    expect(refused?.status()).toBe(400);
    expect(await page.locator('[role="alert"]').innerText()).toMatch(/^PF_ERR_SCHEMA: statistics query/);
    expect(await page.locator('rect.bar').count()).toBe(0);
    expect(violations).toEqual([]);
    await page.close();
  });

  it('is for administrators only', async () => {
    const page = await context.newPage();
    // Challenged, with no credentials to give (a person would be asked for them): no page.
    await expect(page.goto(`${world.domain.adminUrl}/stats/`)).rejects.toThrow(
      /ERR_INVALID_AUTH_CREDENTIALS/,
    );
    const res = await page.request.get(`${world.domain.adminUrl}/stats/`);
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toBe('Basic realm="protofly statistics"');
    await page.close();
  });
});
