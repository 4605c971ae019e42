/** The XMPP domain of the tests, and its users' passwords (Prosody itself: server/prosody.ts). */
export const XMPP_DOMAIN = 'x.example';
export const PASSWORDS: Readonly<Record<string, string>> = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  erin: 'erin-pw',
};

export { type Prosody, startProsody } from '../../server/prosody.js';
