/**
 * `protofly demo --web` both ways, in Debian's Chromium (/usr/bin/chromium, driven by
 * playwright-core; nothing downloaded): the command driving Chromium itself (`--headless
 * --json`), and the command serving the two pages while this test drives them as a person would
 * in two tabs. Each run: Bob's page (b.example's origin) registers, Alice's page (a.example's
 * origin) loads b.example's stub, verifies it and runs it in a Web Worker, they chat both ways,
 * Alice calls Bob (camera, microphone and a data channel from Chromium's fake devices) through
 * that stub, the call connects and the data channel echoes; then Bob calls Alice back; with
 * --sip, Alice's page also chats with and calls Dave at c.example (Kamailio, JsSIP). Screenshots of both pages go to
 * test-artifacts/web-demo/ (git-ignored). Without Chromium the test fails: `.ci/run` installs it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../../cli/demo-report.js';
import { DEFAULT_CHROMIUM, driveDemo, launchChromium } from '../../cli/web/drive.js';
import { lastLine, protofly } from '../support/cli.js';

const root = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(root, 'test-artifacts', 'web-demo');
const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
/** The stub each page verified: b.example's json-ws, for Alice (on the fly) and for Bob (his home's). */
const STUB = { domain: 'b.example', name: 'json-ws', version: '0.1.0', verified: true };

/** Bounds for a hung demo, not expectations: a run took 95 s at a load of 27 on two cores. */
const RUN_MS = 480_000;

/** Both screenshots exist and are PNG images. */
async function expectScreenshots(dir: string): Promise<void> {
  for (const name of ['alice.png', 'bob.png']) {
    const png = await readFile(join(dir, name));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  }
}

describe('protofly demo --web in Chromium', () => {
  it(
    '--headless --json drives Chromium through the two pages: the stub verified in Alice’s page, chat both ways, a WebRTC call that connects',
    async () => {
      expect(existsSync(DEFAULT_CHROMIUM), `${DEFAULT_CHROMIUM}: apt-get install chromium`).toBe(true);
      const shots = join(ARTIFACTS, 'headless');
      await rm(shots, { recursive: true, force: true });
      const run = await protofly(
        ['demo', '--web', '--headless', '--json', '--screenshots', shots],
        {},
        RUN_MS,
      );
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as DemoReport;
      expect(report.error).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.webrtc?.connected).toBe(true);
      expect(report.webrtc?.rttMs).toBeGreaterThan(0);
      expect(report.stubs).toEqual([
        expect.objectContaining({ for: ALICE, ...STUB }),
        expect.objectContaining({ for: BOB, ...STUB }),
      ]);
      // Chats both ways, and two calls (Alice's, Bob's back): offer, answer, bye each; each delivered once.
      expect(report.messages).toEqual({ sent: 8, delivered: 8 });
      const labels = report.ladder.rows.map((r) => ('note' in r ? r.note : r.label));
      expect(labels.slice(0, 3)).toEqual([
        'GET b.example stub/default',
        'json-ws@0.1.0 + package',
        expect.stringMatching(/^verified .*signature.*integrity/),
      ]);
      for (const kind of ['chat', 'offer', 'answer', 'candidate', 'bye'])
        expect(labels).toContain(`${kind} [json-ws@0.1.0]`);
      expect(Object.keys(report.timings)).toContain('call connects (WebRTC), data channel round trip');
      await expectScreenshots(shots);
    },
    RUN_MS,
  );

  it(
    '--sip --headless --json: Alice’s page also chats with Dave (JsSIP on Kamailio) both ways and calls him, through c.example’s sip-ws stub verified in her page',
    async () => {
      const run = await protofly(['demo', '--web', '--sip', '--headless', '--json'], {}, RUN_MS);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as DemoReport;
      expect(report.error).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.webrtc?.connected).toBe(true);
      expect(report.stubs).toEqual([
        expect.objectContaining({ for: ALICE, ...STUB }),
        expect.objectContaining({ for: ALICE, domain: 'c.example', name: 'sip-ws', verified: true }),
        expect.objectContaining({ for: BOB, ...STUB }),
      ]);
      // Alice sent Dave a chat, an offer and a bye; she got his chat, his ringing and his answer.
      expect(report.sip).toEqual({
        peer: 'user://c.example/dave',
        stub: 'sip-ws@0.1.0',
        messages: { sent: 3, received: 3 },
        call: { answered: true, ended: true },
      });
      const labels = report.ladder.rows.map((r) => ('note' in r ? r.note : r.label));
      for (const kind of ['chat', 'offer', 'answer', 'bye'])
        expect(labels).toContain(`${kind} [sip-ws@0.1.0]`);
      expect(report.ladder.columns).toHaveLength(5);
    },
    RUN_MS,
  );

  it(
    'without --headless, serves the two pages at the URLs it prints until Ctrl-C; driven here, they chat both ways and the call connects, under the pages’ strict CSP',
    async () => {
      const child = spawn(process.execPath, [join(root, 'bin', 'protofly.js'), 'demo', '--web'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        const pages: Record<string, string> = {};
        for await (const line of createInterface({ input: child.stdout })) {
          const m = /^(Alice|Bob)\s+\([ab]\.example\): (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
          if (m) pages[m[1]!.toLowerCase()] = m[2]!;
          if (pages.alice && pages.bob) break;
        }
        expect(Object.keys(pages).sort()).toEqual(['alice', 'bob']);
        expect(new URL(pages.alice!).origin).not.toBe(new URL(pages.bob!).origin);

        const browser = await launchChromium(DEFAULT_CHROMIUM);
        const shots = join(ARTIFACTS, 'served');
        await rm(shots, { recursive: true, force: true });
        const { alice, bob } = await driveDemo(
          browser,
          { alice: pages.alice!, bob: pages.bob! },
          { screenshots: shots },
        ).finally(() => browser.close());

        const chats = [
          { from: ALICE, text: expect.stringMatching(/^Hello Bob/) },
          { from: BOB, text: expect.stringMatching(/^Hello Alice/) },
        ];
        expect(alice.chats).toEqual(chats);
        expect(bob.chats).toEqual(chats);
        expect(alice.error ?? bob.error).toBeUndefined();
        // Alice's call to Bob, and Bob's back: each connected, audio and video arrived, the data channel echoed.
        for (const { webrtc } of [alice, bob]) {
          expect(webrtc).toMatchObject({
            connected: true,
            remoteTracks: expect.arrayContaining(['audio', 'video']),
          });
          expect(webrtc!.rttMs).toBeGreaterThan(0);
        }
        // Each sent a chat, an offer, an answer and a bye, and got the other's.
        expect(alice.messages).toEqual({ sent: 4, received: 4 });
        expect(bob.messages).toEqual({ sent: 4, received: 4 });
        expect(alice.checks.map((c) => c.check)).toEqual(
          expect.arrayContaining(['schema', 'signature', 'policy', 'integrity']),
        );
        expect([alice.violations, bob.violations]).toEqual([[], []]);
        await expectScreenshots(shots);
      } finally {
        child.kill('SIGINT');
      }
      expect(await exited).toBe(0);
    },
    RUN_MS,
  );

  it('--headless without Chromium fails with one coded line, no stack; --headless without --web is a usage error', async () => {
    const missing = await protofly(['demo', '--web', '--headless', '--chromium', '/nonexistent/chromium']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim()).toBe(
      "PF_ERR_BROWSER: no Chromium at /nonexistent/chromium: install Debian's (apt-get install chromium) or pass --chromium <path>",
    );
    const usage = await protofly(['demo', '--headless']);
    expect(usage.code).toBe(2);
    expect(lastLine(usage.stderr)).toMatch(
      /^PF_ERR_USAGE: --headless, --chromium and --screenshots go with --web/,
    );
  });
});
