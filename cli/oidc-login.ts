import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAddress } from '../core/address.js';
import { ProtoflyError } from '../core/errors.js';
import { writeAtomic } from '../node/files.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { codeGrantForm, codeRequest, oidcLoginOf } from '../runtime/code-request.js';
import { grant } from '../runtime/password-login.js';
import {
  type Command,
  parse,
  peerCatalogues,
  progress,
  required,
  untilSignal,
  usageError,
} from './command.js';

/** How long the log-in at the provider may take, by default: a person types a password there. */
const DEFAULT_WAIT_SECONDS = 300;

export const login: Command = {
  summary: "log in at your home domain's OpenID Connect provider, and keep the domain's token in a file",
  usage:
    'protofly login --as <user address> --token-file <file> [--peer <domain>=<catalogue URL>]... [--audience <domain>] [--no-browser] [--wait <seconds>]',
  help: [
    'Options:',
    '  --as <address>       who you are, e.g. user://a.example/alice (required)',
    '  --token-file <file>  where the token goes (written 0600); protofly chat --token-file reads it',
    '                       (required)',
    '  --peer <d>=<url>     where domain d serves its catalogue, for domains not at https://<d>',
    '  --audience <domain>  the domain whose node the token is for (default: your home domain)',
    '  --no-browser         print the address to open, and open no browser',
    `  --wait <seconds>     how long the log-in may take (default ${DEFAULT_WAIT_SECONDS})`,
    '',
    'For a domain whose users log in at an OpenID Connect provider (identity-oidc). The provider',
    "and the domain's client there are in the domain's metadata. As a native app (RFC 8252), the",
    'command listens on a loopback port for the redirect back (§7.3), opens the authorization',
    'request (authorization code with PKCE, RFC 7636) in your browser or prints it, and hands the',
    "code to your home domain's token endpoint, which answers with the domain's own token.",
    '',
    'Example:',
    '  protofly login --as user://corp.example/alice --token-file ~/.protofly/alice.token',
    '  protofly chat --as user://corp.example/alice --token-file ~/.protofly/alice.token user://b.example/bob',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        as: { type: 'string' },
        'token-file': { type: 'string' },
        peer: { type: 'string', multiple: true },
        audience: { type: 'string' },
        'no-browser': { type: 'boolean' },
        wait: { type: 'string' },
      },
      'login',
    );
    if (positionals.length > 0) throw usageError('login', `unexpected '${positionals[0]}'`);
    const address = required(values.as, 'as', 'login');
    const file = required(values['token-file'], 'token-file', 'login');
    const home = parseAddress(address);
    if (home.scheme !== 'user') throw usageError('login', `--as takes a user address, not '${address}'`);
    const wait = Number(values.wait ?? DEFAULT_WAIT_SECONDS);
    if (!(Number.isInteger(wait) && wait > 0)) {
      throw usageError('login', `--wait must be a whole number of seconds, not '${values.wait}'`);
    }
    const catalogue = new CatalogueClient({ catalogues: peerCatalogues(values.peer ?? [], 'login') });
    const at = await oidcLoginOf(catalogue, home.domain);
    const callback = await loopbackCallback();
    try {
      const request = await codeRequest({
        authorizationEndpoint: at.authorizationEndpoint,
        clientId: at.clientId,
        redirectUri: callback.redirectUri,
      });
      console.error(`Log in at ${at.issuer}: open\n${request.url}`);
      if (!values['no-browser']) openBrowser(request.url);
      const back = await Promise.race([
        callback.url,
        untilSignal().then(() => {
          throw new ProtoflyError('PF_ERR_AUTH', 'the log-in was interrupted');
        }),
        new Promise<never>((_, reject) => {
          setTimeout(
            () => reject(new ProtoflyError('PF_ERR_TIMEOUT', `no log-in came back within ${wait} s`)),
            wait * 1000,
          ).unref();
        }),
      ]);
      // A redirect that is not this request's (its state) or the provider's refusal: PF_ERR_AUTH.
      const form = codeGrantForm(request, back);
      progress(`redeeming the code at ${home.domain}`);
      const audience = values.audience ?? home.domain;
      const { token, ttl } = await grant(
        catalogue,
        home.domain,
        at.tokenEndpoint,
        { ...form, audience },
        address,
      );
      await writeAtomic(file, `${token}\n`, 0o600);
      console.log(`logged in as ${address}: a token for ${audience}, valid ${ttl} s, in ${file}`);
      return 0;
    } finally {
      await callback.close();
    }
  },
};

/** A loopback listener for the provider's redirect back (RFC 8252 §7.3: `127.0.0.1`, any port). */
interface LoopbackCallback {
  readonly redirectUri: string;
  /** The URL the browser came back to, once it did. */
  readonly url: Promise<string>;
  close(): Promise<void>;
}

async function loopbackCallback(): Promise<LoopbackCallback> {
  let arrived!: (url: string) => void;
  const url = new Promise<string>((resolve) => {
    arrived = resolve;
  });
  const server = createServer((req, res) => {
    const at = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || at.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('protofly: the log-in came back; this page may be closed.\n');
    arrived(`${redirectUri}${at.search}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  return {
    redirectUri,
    url,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens `url` in the desktop's browser, where there is one (xdg-open, open); the URL is printed anyway. */
function openBrowser(url: string): void {
  const opener =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {}); // no opener: the printed URL is the way
    child.unref();
  } catch {
    // Same: the printed URL is the way.
  }
}
