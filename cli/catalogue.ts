import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { createCatalogueServer } from '../server/catalogue/server.js';
import { type Command, parse, portOption, required, untilSignal, usageError } from './command.js';

const usage =
  'protofly catalogue --dir <catalogue-dir> [--port 8080] [--host 127.0.0.1] [--cert <pem> --key <pem>]';

export const catalogue: Command = {
  summary: 'serve a catalogue directory over HTTP(S)',
  usage,
  help: [
    'Options:',
    '  --dir <dir>     the catalogue directory, as protofly publish writes it (required)',
    '  --port <n>      port to listen on (default 8080; 0: any free port)',
    '  --host <addr>   address to listen on (default 127.0.0.1)',
    '  --cert <pem>    TLS certificate chain: serve HTTPS (with --key)',
    '  --key <pem>     TLS private key (with --cert)',
    '',
    'Example:',
    '  protofly catalogue --dir catalogue --port 8080',
  ].join('\n'),
  async run(args) {
    const { values } = parse(
      args,
      {
        dir: { type: 'string' },
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        cert: { type: 'string' },
        key: { type: 'string' },
      },
      'catalogue',
    );
    const dir = resolve(required(values.dir, 'dir', 'catalogue'));
    const port = portOption(values.port, 'port', 'catalogue');
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `no catalogue directory at ${values.dir} (protofly publish --out makes one)`,
        {
          dir,
        },
      );
    }
    if (Boolean(values.cert) !== Boolean(values.key))
      throw usageError('catalogue', '--cert and --key go together');
    const tls =
      values.cert && values.key ? { cert: await pem(values.cert), key: await pem(values.key) } : undefined;
    let server: ReturnType<typeof createCatalogueServer>;
    try {
      server = createCatalogueServer({ dir, ...(tls ? { tls } : {}) });
    } catch (err) {
      throw new ProtoflyError('PF_ERR_CONFIG', `--cert/--key: ${(err as Error).message}`, {});
    }
    let url: string;
    try {
      url = await server.listen(port, values.host);
    } catch (err) {
      await server.close();
      throw err;
    }
    console.log(`catalogue of ${values.dir} at ${url}`);
    await untilSignal();
    await server.close();
    return 0;
  },
};

async function pem(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read ${file}: ${(err as Error).message}`, { file });
  }
}
