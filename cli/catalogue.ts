import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createCatalogueServer } from '../server/catalogue/server.js';
import { type Command, parse, required, untilSignal } from './command.js';

const usage =
  'protofly catalogue --dir <catalogue-dir> [--port 8080] [--host 127.0.0.1] [--cert <pem> --key <pem>]';

export const catalogue: Command = {
  summary: 'serve a catalogue directory over HTTP(S)',
  usage,
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
      usage,
    );
    const tls =
      values.cert && values.key
        ? { cert: await readFile(values.cert, 'utf8'), key: await readFile(values.key, 'utf8') }
        : undefined;
    const server = createCatalogueServer({
      dir: resolve(required(values.dir, 'dir', usage)),
      ...(tls ? { tls } : {}),
    });
    const url = await server.listen(Number(values.port), values.host);
    console.log(`catalogue of ${values.dir} at ${url}`);
    await untilSignal();
    await server.close();
    return 0;
  },
};
