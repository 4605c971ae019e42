import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Message, request, response } from '../core/message.js';
import type { Stub } from '../core/stub.js';
import activate from '../plugins/stubs/sip-ws/index.js';
import { DirectContext, DirectSession } from '../sandbox/node/direct-context.js';
import { generateDomainKey } from '../server/catalogue/keys.js';
import { type Kamailio, startKamailio } from '../server/kamailio.js';
import { type JsSipUser, jssipUser } from '../server/sip-client/jssip-user.js';
import { startSipDomain } from '../server/sip-domain.js';
import { alternate, type BenchOptions, inFlight, type Result, result } from './harness.js';
import { runtimePair } from './runtime-pair.js';

/**
 * SIP transactions through a real Kamailio over WebSocket (RFC 7118), one Node process
 * driving both ends, against JsSIP doing the same through the same Kamailio in the same run:
 *
 * - MESSAGE: Carol → Kamailio → Dave, whose side answers 200 at once; `WINDOW` in flight. Ours
 *   is the sip-ws stub on a direct context, and then the whole product path (two runtimes,
 *   each with the verified stub in a worker sandbox; the far runtime answers once its
 *   conversation took the chat). The stub answers the proxy's first 407 and then sends its
 *   credentials first; JsSIP is challenged on every MESSAGE, so two transactions each.
 * - REGISTER: `n` user agents connecting and registering at once (WebSocket handshake,
 *   REGISTER, 401, REGISTER with digest, 200), timed until the last is registered.
 */

const WINDOW = 50;
const DOMAIN = 'c.example';
const TEXT = 'a chat message of about the usual size, carried by SIP MESSAGE';

/** Sends `n` messages with `WINDOW` in flight; resolves with messages per second. */
const rate = (n: number, send: () => Promise<unknown>) => inFlight(n, WINDOW, send);

/** A stub on a direct context that answers every request it delivers with 200, as a runtime would. */
async function stubFor(kam: Kamailio, user: string, peer?: string) {
  const session = new DirectSession();
  const waiting = new Map<string, () => void>();
  let stub: Stub | undefined;
  const ctx = new (class extends DirectContext {
    override send(msg: Message): void {
      if (msg.type === 'response') waiting.get(msg.id)?.();
      else stub?.postMessage(response(msg, 200));
    }
  })({
    address: `user://${DOMAIN}/${user}`,
    config: { url: kam.wsUrl, password: 'pw', keepAliveMs: 0 },
    session,
    domain: DOMAIN,
    ...(peer ? { peer: `user://${DOMAIN}/${peer}` } : {}),
  });
  stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.at(-1) === 'live');
  return {
    /** Sends a chat to `peer` and resolves on its response. */
    chat: () =>
      new Promise<void>((resolve) => {
        const m = request('create', ctx.identity.address, `user://${DOMAIN}/${peer}`, {
          value: { kind: 'chat', text: TEXT },
        });
        waiting.set(m.id, () => {
          waiting.delete(m.id);
          resolve();
        });
        stub!.postMessage(m);
      }),
    close: async () => {
      await stub!.stop();
      ctx.end();
      session.end();
    },
  };
}

/** `n` user agents registering at once; resolves with registrations per second. */
async function registrations(n: number, open: (i: number) => Promise<() => Promise<void>>): Promise<number> {
  const t0 = performance.now();
  const closers = await Promise.all(Array.from({ length: n }, (_, i) => open(i)));
  const perSecond = n / ((performance.now() - t0) / 1000);
  await Promise.all(closers.map((close) => close()));
  return perSecond;
}

export default async function kamailioBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 1000 : 5000;
  // 100 at once was seen to overrun this machine's Kamailio (JsSIP connection errors) under load.
  const agents = quick ? 30 : 50;
  const users = Object.fromEntries(
    ['carol', 'dave', 'erin', 'frank', ...Array.from({ length: agents * 2 }, (_, i) => `u${i}`)].map((u) => [
      u,
      'pw',
    ]),
  );
  const kam = await startKamailio({ domain: DOMAIN, users, loadTest: true });
  const results: Result[] = [];
  try {
    const carol = await stubFor(kam, 'carol', 'dave');
    const dave = await stubFor(kam, 'dave');
    const erin: JsSipUser = await jssipUser(kam.wsUrl, DOMAIN, 'erin', 'pw');
    const frank: JsSipUser = await jssipUser(kam.wsUrl, DOMAIN, 'frank', 'pw');
    const jssipChat = () => erin.send(`sip:frank@${DOMAIN}`, TEXT);
    const [ours, theirs] = await alternate(
      rounds,
      () => rate(n, carol.chat),
      () => rate(n, jssipChat),
    );
    results.push(
      result(
        `MESSAGE through Kamailio, sip-ws stub at both ends, ${WINDOW} in flight`,
        'MESSAGE/s',
        ours,
        theirs,
      ),
    );
    await Promise.all([carol.close(), dave.close()]);

    // The product path: runtimes with the stub verified from c.example's catalogue, in a worker sandbox.
    const dir = await mkdtemp(join(tmpdir(), 'pf-bench-sip-'));
    const sip = await startSipDomain({
      domain: DOMAIN,
      key: await generateDomainKey(DOMAIN, join(dir, 'keys')),
      dataDir: dir,
      sipUrl: kam.wsUrl,
      rpcUrl: kam.rpcUrl,
    });
    const [product, theirsAgain] = await runtimePair({
      domain: DOMAIN,
      catalogueUrl: sip.catalogueUrl,
      stubConfig: { password: 'pw', keepAliveMs: 0 },
      rounds,
      n,
      window: WINDOW,
      text: TEXT,
      theirs: jssipChat,
    });
    results.push(
      result(
        `MESSAGE through Kamailio, runtime + sandbox + sip-ws at both ends, ${WINDOW} in flight`,
        'MESSAGE/s',
        product,
        theirsAgain,
      ),
    );
    await sip.close();
    await rm(dir, { recursive: true, force: true });
    await Promise.all([erin.stop(), frank.stop()]);

    let round = 0;
    const [ourRegs, theirRegs] = await alternate(
      rounds,
      () => {
        const base = (round++ % 2) * agents;
        return registrations(agents, async (i) => (await stubFor(kam, `u${base + i}`)).close);
      },
      () =>
        registrations(agents, async (i) => {
          const ua = await jssipUser(kam.wsUrl, DOMAIN, `u${((round + 1) % 2) * agents + i}`, 'pw');
          return () => ua.stop();
        }),
    );
    results.push(
      result(
        `REGISTER, ${agents} user agents at once (connect, 401, digest, 200)`,
        'registrations/s',
        ourRegs,
        theirRegs,
      ),
    );
  } finally {
    await kam.stop();
  }
  return results;
}
