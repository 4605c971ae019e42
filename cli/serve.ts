import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ProtoflyError } from '../core/errors.js';
import type { PublishResult } from '../server/catalogue/publish.js';
import { isClusterNode, type NodeReport, runClusterNode, startCluster } from '../server/cluster-mode.js';
import { type DomainOptions, startDomain } from '../server/domain.js';
import { type Command, parse, progress, untilSignal, usageError } from './command.js';

/** What `protofly serve` runs with no config: a domain on loopback, in memory but its key and catalogue. */
const DEFAULTS = { domain: 'localhost', ports: { catalogue: 7080, messaging: 7081, admin: 7082 } };

export const serve: Command = {
  summary:
    'run a domain: catalogue, services, messaging node(s); --cluster for several node processes on Redis',
  usage:
    'protofly serve [--config <domain.yaml|json>] [--domain <d>] [--data <dir>] [--cluster <redis://host:port>] [--nodes <n>] [--public-url <ws(s)://...>]',
  help: [
    'Options:',
    '  --config <file>    the domain config, YAML or JSON (schemas/domain-config.schema.json); without',
    '                     it: domain localhost, catalogue :7080, messaging :7081, admin :7082',
    '  --domain <d>       the domain, over the config',
    '  --data <dir>       keys, catalogue, users and records, over the config (default .protofly/<domain>)',
    '  --cluster <url>    run the messaging node in several processes on this Redis',
    '                     (location-redis and cluster-redis unless the config chose others)',
    '  --nodes <n>        node processes (default 1; 2 with --cluster)',
    '  --public-url <url> the messaging URL the published stubs give clients: the load balancer in',
    "                     front of the domain's hosts (deploy/haproxy.cfg); default this host's node",
    '',
    'Every wrong setting of the config is named at once (PF_ERR_SCHEMA); a port in use is',
    'PF_ERR_CONFIG, and nothing is left listening. Pino logs go to stdout; Ctrl-C stops it.',
    '',
    'Example:',
    '  protofly serve --config b.example.yaml',
  ].join('\n'),
  async run(args) {
    if (isClusterNode()) return runClusterNode();
    const { values } = parse(
      args,
      {
        config: { type: 'string' },
        domain: { type: 'string' },
        data: { type: 'string' },
        cluster: { type: 'string' },
        nodes: { type: 'string' },
        'public-url': { type: 'string' },
      },
      'serve',
    );
    const config: Record<string, unknown> = values.config ? await readConfig(values.config) : { ...DEFAULTS };
    if (values.domain) config.domain = values.domain;
    if (values.data) config.dataDir = values.data;
    if (values.cluster) {
      if (!/^rediss?:\/\/./.test(values.cluster))
        throw usageError('serve', `--cluster must be a redis:// URL, not '${values.cluster}'`);
      withRedis(config, values.cluster);
    }
    if (values.nodes !== undefined) {
      if (!/^[1-9]\d{0,2}$/.test(values.nodes))
        throw usageError('serve', `--nodes must be a whole number from 1, not '${values.nodes}'`);
      config.nodes = Number(values.nodes);
    } else if (values.cluster) config.nodes ??= 2;
    const publicUrl = values['public-url'];
    if (publicUrl !== undefined && !(URL.canParse(publicUrl) && /^wss?:$/.test(new URL(publicUrl).protocol)))
      throw usageError('serve', `--public-url must be a ws:// or wss:// URL, not '${publicUrl}'`);
    const options = publicUrl ? { publicUrl } : {};
    progress(`starting ${String(config.domain ?? 'the domain')}`);
    const served =
      Number(config.nodes ?? 1) > 1
        ? await serveCluster(config, args, options)
        : await serveOne(config, options);
    console.log([...served.lines, 'Ctrl-C stops it.'].join('\n'));
    await untilSignal();
    await served.close();
    return 0;
  },
};

type Served = { lines: string[]; close(): Promise<void> };

async function serveOne(config: Record<string, unknown>, options: DomainOptions): Promise<Served> {
  const domain = await startDomain(config, options);
  return {
    lines: [
      `protofly domain ${domain.domain}`,
      `  catalogue   ${domain.catalogueUrl}/.well-known/protofly/stub/default`,
      `  keys        ${domain.catalogueUrl}/.well-known/protofly/keys  (kid ${domain.key.publicJwk.kid})`,
      `  messaging   ${domain.nodeUrl}`,
      ...publicLine(options),
      `  health      ${domain.adminUrl}/health`,
      `  metrics     ${domain.adminUrl}/metrics`,
      `  data        ${domain.dataDir}`,
      ...stubLines(domain.published),
      ...domain.backends.map((b) => `  backend     ${b.service} ${b.name}@${b.version}`),
    ],
    close: () => domain.close(),
  };
}

async function serveCluster(
  config: Record<string, unknown>,
  args: readonly string[],
  options: DomainOptions,
): Promise<Served> {
  const running = await startCluster(config, ['serve', ...args], options);
  const nodeLine = (n: NodeReport) => `  node        ${n.id} pid ${n.pid} admin ${n.adminUrl}`;
  running.onRespawn = (n) => console.log(`${nodeLine(n)} (started again)`);
  const nodes = [...running.nodes.values()];
  return {
    lines: [
      `protofly domain ${running.domain} (${nodes.length} node processes)`,
      `  catalogue   ${running.catalogueUrl}/.well-known/protofly/stub/default`,
      `  keys        ${running.catalogueUrl}/.well-known/protofly/keys  (kid ${running.keyId})`,
      `  messaging   ${running.nodeUrl}`,
      ...publicLine(options),
      ...nodes.map(nodeLine),
      `  data        ${running.dataDir}`,
      ...stubLines(running.published),
      ...(nodes[0]?.backends ?? []).map((b) => `  backend     ${b.service} ${b.name}@${b.version}`),
    ],
    close: () => running.close(),
  };
}

/** The balancer's URL, when the stubs give clients that rather than this host's node. */
function publicLine(options: DomainOptions): string[] {
  return options.publicUrl ? [`  public      ${options.publicUrl}`] : [];
}

function stubLines(published: readonly PublishResult[]): string[] {
  return published.map(
    (p) =>
      `  stub        ${p.descriptor.name}@${p.descriptor.version} ${p.descriptor.sourcePackage.integrity}`,
  );
}

/** `--cluster <url>`: location and cluster on that Redis, unless the config chose other backends. */
function withRedis(config: Record<string, unknown>, url: string): void {
  const services = { ...(config.services as Record<string, unknown> | undefined) };
  services.location ??= { backend: 'location-redis', config: { url } };
  services.cluster ??= { backend: 'cluster-redis', config: { url } };
  config.services = services;
}

/** Reads a domain config in JSON or YAML; the schema check happens in startDomain. */
async function readConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read config ${file}: ${(err as Error).message}`, {
      file,
    });
  }
  const format = file.endsWith('.json') ? 'JSON' : 'YAML';
  let config: unknown;
  try {
    config = format === 'JSON' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `config ${file} is not valid ${format}: ${(err as Error).message}`,
      {
        file,
      },
    );
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    const what =
      config === null || config === undefined
        ? 'is empty'
        : `is a ${Array.isArray(config) ? 'list' : typeof config}`;
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `config ${file} ${what}: it must be a mapping, with at least domain`,
      {
        file,
      },
    );
  }
  return config as Record<string, unknown>;
}
