import { createInterface } from 'node:readline';
import { parseAddress } from '../core/address.js';
import { isProtoflyError } from '../core/errors.js';
import { createNodeRuntime } from '../entry/node-runtime.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import type { UpdatePolicy } from '../runtime/runtime.js';
import {
  type Command,
  parse,
  peerCatalogues,
  policyOption,
  progress,
  required,
  untilSignal,
  usageError,
} from './command.js';
import { type Login, login } from './login.js';

export const chat: Command = {
  summary: 'chat with a peer from the terminal: what arrives is printed, each line typed is sent',
  usage:
    'protofly chat --as <user address> <peer address> [--key <home domain.key> | --token-file <file>] [--peer <domain>=<catalogue URL>]... [--policy development|<policy.json>] [--updates pin|new-conversations|live]',
  help: [
    'Options:',
    '  --as <address>       who you are, e.g. user://a.example/alice (required)',
    "  --key <file>         your home domain's key: tokens are minted with it, as the domain would",
    '  --token-file <file>  a token your home domain issued, shown to every domain',
    '  --peer <d>=<url>     where domain d serves its catalogue, for domains not at https://<d>',
    '                       (repeat for each; your home domain too)',
    '  --policy <p>         the runtime policy: development (allows loopback endpoints, plain ws://',
    '                       to them too, for a domain on this machine), or a policy file (default:',
    '                       the safe one: wss:// only)',
    "  --updates <p>        what a domain's new stub version does: pin, new-conversations (default),",
    '                       or live (the running conversation moves to it; protofly dev prints this)',
    '',
    'Without --key or --token-file, you log in with your password, taken from PROTOFLY_PASSWORD,',
    "at your home domain's token endpoint.",
    '',
    "The peer's domain stub is fetched, verified (trust on first use) and run in a sandbox. Each line",
    'on stdin is sent as a chat; stdin ending or Ctrl-C ends the conversation.',
    '',
    'Example:',
    '  PROTOFLY_PASSWORD=... protofly chat --as user://localhost/alice user://localhost/bob \\',
    '    --peer localhost=http://127.0.0.1:7080 --policy development',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        as: { type: 'string' },
        key: { type: 'string' },
        'token-file': { type: 'string' },
        peer: { type: 'string', multiple: true },
        policy: { type: 'string' },
        updates: { type: 'string' },
      },
      'chat',
    );
    const [peer] = positionals;
    if (!peer || positionals.length > 1) throw usageError('chat', 'one peer address expected');
    parseAddress(peer);
    const address = required(values.as, 'as', 'chat');
    const tokenFile = values['token-file'];
    if (values.key && tokenFile) throw usageError('chat', 'give --key or --token-file, not both');
    const password = process.env.PROTOFLY_PASSWORD;
    if (!values.key && !tokenFile && !password)
      throw usageError('chat', 'one of --key, --token-file or PROTOFLY_PASSWORD is required');
    const how: Login = values.key
      ? { address, key: values.key }
      : tokenFile
        ? { address, tokenFile }
        : { address, password: password as string };
    const updates = values.updates;
    if (updates !== undefined && !UPDATE_POLICIES.includes(updates as UpdatePolicy))
      throw usageError('chat', `--updates must be ${UPDATE_POLICIES.join(', ')}, not '${updates}'`);
    const identity = await login(how);
    const node = createNodeRuntime({
      identity,
      catalogues: peerCatalogues(values.peer ?? [], 'chat'),
      ...(values.policy ? { policy: await policyOption(values.policy, 'chat') } : {}),
      ...(updates ? { updates: { '*': updates as UpdatePolicy } } : {}),
    });
    try {
      progress(`loading ${parseAddress(peer).domain}'s stub and opening the conversation`);
      const conversation = await node.runtime.conversation(peer);
      print(conversation);
      // Conversations the peer opens (after this one ended on their side) show too.
      node.runtime.on('conversation', (c) => print(c));
      await node.runtime.register();
      console.log(`chatting with ${peer} over ${conversation.carrier.name}@${conversation.carrier.version}`);
      await Promise.race([send(conversation), untilSignal()]);
    } finally {
      await node.close();
    }
    return 0;
  },
};

const UPDATE_POLICIES: readonly UpdatePolicy[] = ['pin', 'new-conversations', 'live'];

function print(conversation: Conversation): void {
  conversation.on('message', (m: Incoming) => {
    const body = m.body as { text?: unknown };
    console.log(`${m.from}: ${typeof body.text === 'string' ? body.text : JSON.stringify(m.body)}`);
  });
}

/** Sends each line of stdin until it ends; a refused line is said on stderr, and the chat goes on. */
async function send(conversation: Conversation): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.length === 0) continue;
    try {
      await conversation.send(line);
    } catch (err) {
      console.error(isProtoflyError(err) ? err.message : String(err));
    }
  }
}
