import { pino } from 'pino';
import { StaticIdentity } from '../../plugins/backends/identity-static/static-identity.js';
import { readDomainKey } from '../../server/catalogue/keys.js';
import { startMessagingNode } from '../../server/messaging-node/messaging-node.js';

/**
 * A messaging node in a process of its own, for the fault suite to SIGKILL, SIGSTOP and start
 * again: `node node-process.mjs <domain> <key file> <port>`. It admits the domain's own users
 * (tokens signed with the key) and says `ready <url>` once it listens; SIGTERM closes it
 * gracefully (clients are told to reconnect).
 */
const [domain, keyFile, port] = process.argv.slice(2) as [string, string, string];
const key = await readDomainKey(keyFile, domain);
const node = await startMessagingNode({
  domain,
  identity: new StaticIdentity({ domain, key, users: new Map() }),
  port: Number(port),
  adminPort: 0,
  log: pino({ level: 'silent' }),
  messagesPerSecond: 100_000,
  burst: 100_000,
  offlineMessages: 50_000,
});
process.stdout.write(`ready ${node.url}\n`);
process.once('SIGTERM', () => {
  void node.close().then(() => process.exit(0));
});
