import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { vi } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../../entry/node-runtime.js';
import { hashPassword } from '../../plugins/backends/identity-static/password.js';
import type { Conversation } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { type RunningDomain, startDomain } from '../../server/domain.js';

export const DOMAIN = 'p.example';
export const FOREIGN = 'a.example';
export const ALICE = `user://${FOREIGN}/alice`;
export const BOB = `user://${DOMAIN}/bob`;
export const CAROL = `user://${DOMAIN}/carol`;
/** An administrator of p.example, as HTTP Basic credentials (name:password). */
export const ROOT = 'root:root password';
const SDP = 'v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\n';

/** p.example (with an administrator) and a.example, real domains on loopback. */
export interface StatsDomains {
  /** p.example, whose statistics are asked for. */
  readonly domain: RunningDomain;
  /** The callIds of the scenario's calls: the answered one, the rejected one. */
  readonly calls: { readonly answered: string; readonly rejected: string };
  close(): Promise<void>;
}

/**
 * Starts the domains and makes real conversations through p.example's node: Alice (of
 * a.example) and Bob chat (2 messages) and Alice calls Bob, who answers, then she hangs up;
 * Carol (of p.example) sends Bob a chat and calls him, and he rejects the call. It resolves
 * once the node has written the calls' ended CDRs (and the chats' with them: one write).
 */
export async function startStatsDomains(): Promise<StatsDomains> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-stats-'));
  const log = pino({ level: process.env.PF_LOG ?? 'silent' });
  const runtimes: NodeRuntime[] = [];
  const started: RunningDomain[] = [];
  const close = async () => {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    await Promise.allSettled(started.map((d) => d.close()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const foreign = await startDomain({ domain: FOREIGN, dataDir: join(dir, FOREIGN) }, { log });
    started.push(foreign);
    const domain = await startDomain(
      {
        domain: DOMAIN,
        dataDir: join(dir, DOMAIN),
        peers: { [FOREIGN]: foreign.catalogueUrl },
        services: { provisioning: { backend: 'provisioning-identity', config: { admins: ['root'] } } },
      },
      { users: new Map([['root', await hashPassword('root password')]]), log },
    );
    started.push(domain);
    const runtime = (address: string, home: RunningDomain) => {
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        identity: { address, token: (audience) => home.identity.issue(address, 600, audience) },
        catalogues: { [DOMAIN]: domain.catalogueUrl, [FOREIGN]: foreign.catalogueUrl },
        dataDir: join(dir, 'runtimes', String(runtimes.length)),
      });
      runtimes.push(rt);
      return rt.runtime;
    };

    const bob = runtime(BOB, domain);
    await bob.register();
    const incoming: Conversation[] = [];
    let wake: (() => void) | undefined;
    bob.on('conversation', (c) => {
      incoming.push(c);
      wake?.();
    });
    const nextIncoming = async () => {
      while (!incoming.length) await new Promise<void>((resolve) => (wake = resolve));
      return incoming.shift()!;
    };
    const fromAlice = nextIncoming();

    const withBob = await runtime(ALICE, foreign).conversation(BOB, { capabilities: ['chat', 'call'] });
    await withBob.send('Hi Bob');
    const atBob = await fromAlice;
    await atBob.send('Hi Alice');
    const answered = await withBob.call(SDP, ['audio']);
    await atBob.answer(answered, SDP);
    await withBob.bye(answered);

    const fromCarol = nextIncoming();
    const carolToBob = await runtime(CAROL, domain).conversation(BOB, { capabilities: ['chat', 'call'] });
    await carolToBob.send('Hi Bob, Carol here');
    const atBob2 = await fromCarol;
    const rejected = await carolToBob.call(SDP, ['audio']);
    await atBob2.reject(486, rejected);
    // The node writes its CDRs every second; the budget is for a machine many times slower.
    await vi.waitFor(
      async () => {
        const records = await domain.services.cdr.list();
        if (records.filter((r) => r.end !== undefined).length < 2) throw new Error('calls not written yet');
      },
      { timeout: 15_000, interval: 100 },
    );
    return { domain, calls: { answered, rejected }, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A GET on p.example's admin port, as `who` (name:password; empty: no credentials). */
export function adminGet(domain: RunningDomain, path: string, who = ROOT): Promise<Response> {
  return fetch(`${domain.adminUrl}${path}`, {
    headers: who ? { authorization: `Basic ${Buffer.from(who).toString('base64')}` } : {},
  });
}
