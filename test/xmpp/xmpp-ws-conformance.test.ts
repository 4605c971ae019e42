import { join } from 'node:path';
import { describe, it, vi } from 'vitest';
import { type ConformanceServer, stubConformance } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/xmpp-ws/index.js';
import { stubFolder } from '../support/packages.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from '../support/prosody.js';
import { FAST } from '../support/sip-world.js';
import { SAMPLES, xmppScript } from '../support/xmpp-script.js';

/** xmpp-ws against a real Prosody serving x.example, whose users alice and bob log in with passwords. */

const { manifest, bundle } = await stubFolder(join(import.meta.dirname, '../../plugins/stubs/xmpp-ws'));
const userOf = (address: string) => address.split('/')[3]!;
const ALICE = `user://${XMPP_DOMAIN}/alice`;

interface Xmpp extends ConformanceServer {
  readonly prosody: Prosody;
}

stubConformance<Xmpp>({
  name: 'xmpp-ws',
  activate,
  manifest,
  bundle,
  server: async () => {
    const prosody = await startProsody({ domain: XMPP_DOMAIN, users: PASSWORDS });
    return { prosody, restart: () => prosody.restart(), close: () => prosody.stop() };
  },
  users: [ALICE, `user://${XMPP_DOMAIN}/bob`],
  context: ({ prosody }, address) => ({
    domain: XMPP_DOMAIN,
    config: { url: prosody.wsUrl, password: PASSWORDS[userOf(address)], ...FAST },
  }),
  refused: ({ prosody }) => ({
    domain: XMPP_DOMAIN,
    config: { url: prosody.wsUrl, password: 'wrong', ...FAST },
  }),
  hostile: {
    protocol: 'xmpp',
    reply: xmppScript(),
    samples: SAMPLES,
    context: (url) => ({ domain: XMPP_DOMAIN, config: { url, password: 'pw', pingIntervalMs: 0, ...FAST } }),
  },
  offers: { calls: true, snapshot: true },
  runner: { describe, it, timers: vi },
});
