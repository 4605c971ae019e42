import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProtoflyError } from '../core/errors.js';
import { writeAtomic } from '../node/files.js';
import { bundlePlugin } from '../server/catalogue/publish.js';
import { type DevPublish, startDevDomain } from '../server/dev-domain.js';
import type { RelayEvent } from '../server/dev-relay.js';
import { type Command, parse, portOption, progress, untilSignal, usageError } from './command.js';
import { type Row, renderLadder } from './ladder.js';

/** The ladder's columns: the stubs (in the runtimes), the relay, the protocol's server. */
const COLUMNS = ['stub', 'protofly dev', 'server'];
const [STUB, SERVER] = [0, 2] as const;

export const dev: Command = {
  summary:
    'a local domain for a stub being written: each save published as a development version, swapped live, its messages shown as a ladder',
  usage:
    'protofly dev <stub-dir> (--server <module> | --upstream <ws url>) [--domain <d>] [--port <n>] [--data <dir>]',
  help: [
    'Options:',
    "  --server <file>    the protocol's server to run here: a module (.ts or .js) exporting",
    '                     start(): Promise<{ url, close() }>, as protofly new stub writes server.ts',
    "  --upstream <url>   or the protocol's server already running elsewhere (ws:// or wss://)",
    '  --domain <d>       the development domain (default <stub name>.localhost)',
    "  --port <n>         the catalogue's port (default 0: any free one)",
    '  --data <dir>       its development key and catalogue (default <stub-dir>/.protofly/dev), kept',
    '                     so that runtimes keep trusting the key and versions only go up',
    '',
    "The domain's catalogue serves the stub as <version>-dev.N, signed by a development key that only",
    'runtimes with the development policy accept (--policy development; createNodeRuntime({ policy:',
    "'development' })). Each save that changes the stub's bundle publishes the next version; runtimes",
    "following the domain live (updates: live) swap to it. The stub's endpoints, and its url setting",
    'if it has one, point at a relay to the server, which shows every frame into and out of the stub.',
    '',
    'Example:',
    '  protofly dev . --server server.ts',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        server: { type: 'string' },
        upstream: { type: 'string' },
        domain: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
      },
      'dev',
    );
    const [dir] = positionals;
    if (!dir || positionals.length > 1) throw usageError('dev', 'one stub folder expected');
    if (!values.server === !values.upstream)
      throw usageError('dev', 'give --server <module> or --upstream <ws url>');
    if (values.upstream !== undefined && !/^wss?:\/\/[^\s/]+/.test(values.upstream))
      throw usageError('dev', `--upstream must be a ws:// or wss:// URL, not '${values.upstream}'`);
    const port = values.port === undefined ? 0 : portOption(values.port, 'port', 'dev');
    const pluginDir = resolve(dir);
    const server = values.server ? await startServer(resolve(values.server)) : undefined;
    try {
      progress(`bundling ${dir} and starting its development domain`);
      const show = (row: Row) => console.log(renderLadder(COLUMNS, [row]).split('\n').slice(1).join('\n'));
      // The domain's users by name alone: the ladder is narrow.
      let local = (text: string) => text;
      const domain = await startDevDomain({
        pluginDir,
        dataDir: resolve(values.data ?? join(pluginDir, '.protofly', 'dev')),
        upstream: server?.url ?? values.upstream!,
        port,
        ...(values.domain ? { domain: values.domain } : {}),
        onRelay: (event) => show(relayRow(event, local)),
        onPublish: (event) => show(publishRow(event)),
      });
      local = (text) => text.replaceAll(`user://${domain.domain}/`, '');
      try {
        const d = domain.first.descriptor;
        const chat = (me: string, peer: string) =>
          `  protofly chat --as user://${domain.domain}/${me} user://${domain.domain}/${peer} --key ${domain.keyFile} --peer ${domain.domain}=${domain.catalogueUrl} --policy development --updates live`;
        console.log(
          [
            `protofly dev: ${domain.domain}, a development domain for stub ${d.name}`,
            `  catalogue   ${domain.catalogueUrl}/.well-known/protofly/stub/default`,
            `  stub        ${d.name}@${d.version} ${d.sourcePackage.integrity}`,
            `  relay       ${domain.relayUrl} → ${server?.url ?? values.upstream} (the server)`,
            `  key         ${domain.keyFile} (a development key)`,
            '',
            'Chat through it, one terminal each:',
            chat('alice', 'bob'),
            chat('bob', 'alice'),
            '',
            'Each save publishes the next version; Ctrl-C stops it.',
            '',
            renderLadder(COLUMNS, []),
          ].join('\n'),
        );
        await untilSignal();
      } finally {
        await domain.close();
      }
    } finally {
      await server?.close();
    }
    return 0;
  },
};

function relayRow(e: RelayEvent, local: (text: string) => string): Row {
  if (e.kind === 'open') return { note: `#${e.connection} connected` };
  if (e.kind === 'close')
    return { note: `#${e.connection} closed ${e.code}${e.reason ? ` ${e.reason}` : ''}` };
  const label = `#${e.connection} ${local(e.data)}`;
  return e.direction === 'out' ? { from: STUB, to: SERVER, label } : { from: SERVER, to: STUB, label };
}

function publishRow(e: DevPublish): Row {
  if (e.kind === 'failed') return { note: `not published (the last version stays): ${e.error.message}` };
  const d = e.result.descriptor;
  return { note: `published ${d.name}@${d.version} ${Math.round(e.ms)} ms after the save` };
}

/** A protocol server, as `--server` starts it. */
interface ProtocolServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the server module `file` exports as `start()`. TypeScript is bundled first (with
 * esbuild, its packages left to be resolved beside it), so that a stub project needs no loader.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` for a module that does not bundle, has no `start()`, or
 *   whose `start()` gives no ws:// URL and close().
 */
async function startServer(file: string): Promise<ProtocolServer> {
  let module = file;
  if (/\.[mc]?ts$/.test(file)) {
    // A backend's bundle is what a server needs: for Node, packages imported where it lies.
    const { code } = await bundlePlugin(dirname(file), basename(file), 'backend', false);
    module = join(dirname(file), '.protofly', 'dev-server.mjs');
    await writeAtomic(module, code);
  }
  const { start } = (await import(pathToFileURL(module).href)) as { start?: unknown };
  if (typeof start !== 'function') {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${file} exports no start(): protofly dev starts the protocol's server with it`,
      { file },
    );
  }
  const server = (await start()) as Partial<ProtocolServer> | undefined;
  if (
    typeof server?.url !== 'string' ||
    !/^wss?:\/\//.test(server.url) ||
    typeof server.close !== 'function'
  ) {
    throw new ProtoflyError('PF_ERR_CONFIG', `${file}: start() must resolve to { url: 'ws://…', close() }`, {
      file,
    });
  }
  return server as ProtocolServer;
}
