import { pino } from 'pino';
import type { StaticIdentity } from '../../plugins/backends/identity-static/static-identity.js';
import { type MessagingNode, startMessagingNode } from '../../server/messaging-node/messaging-node.js';
import type { MessagingNodeOptions } from '../../server/messaging-node/options.js';
import { httpKeysOf } from '../../server/services/keys-of.js';
import { type KeysServer, serveKeys, testIdentity } from './identity-fixtures.js';

/**
 * Two domains on loopback: b.example runs a messaging node; a.example publishes its keys over
 * HTTP, so its users can sign in to b.example's node with tokens from home.
 */
export interface TwoDomains {
  readonly a: StaticIdentity;
  readonly b: StaticIdentity;
  readonly node: MessagingNode;
  readonly keys: KeysServer;
  /** A token from the user's home domain (a.example or b.example) for b.example's node. */
  token(user: string): Promise<string>;
  /** Starts a node again with the same identity and options, on the same port. */
  restart(): Promise<MessagingNode>;
  close(): Promise<void>;
}

export async function twoDomains(
  options: Partial<MessagingNodeOptions> & { allowDomains?: string[] } = {},
): Promise<TwoDomains> {
  const a = await testIdentity('a.example');
  const keys = await serveKeys(a.keys);
  const { allowDomains, ...nodeOptions } = options;
  const b = await testIdentity('b.example', {
    keysOf: httpKeysOf({ origins: { 'a.example': keys.origin } }),
    allowDomains,
  });
  const start = (port?: number) =>
    startMessagingNode({
      domain: 'b.example',
      identity: b,
      log: pino({ level: 'silent' }),
      ...nodeOptions,
      port,
    });
  let node = await start();
  return {
    a,
    b,
    keys,
    get node() {
      return node;
    },
    token: (user) => {
      const home = user.startsWith('user://a.example/') ? a : b;
      return home.issue(user, 300, 'b.example');
    },
    restart: async () => {
      await node.close();
      node = await start(node.port);
      return node;
    },
    close: async () => {
      await node.close();
      await keys.close();
    },
  };
}
