import { join } from 'node:path';
import type { PluginKind } from '../../runtime/catalogue.js';

/**
 * A catalogue directory, as `protofly publish` writes it and the catalogue server reads it:
 *
 * ```
 * keys.json                      the domain's JWKS
 * aliases.json                   { "stub/default": "json-ws" }
 * oauth-authorization-server.json  where the domain's token endpoint is (RFC 8414 metadata)
 * <kind>/<name>/<version>.json   signed descriptors (kind: stub | backend)
 * packages/<sha384-hex>.js       content-addressed packages, never overwritten
 * packages/<sha384-hex>.js.map   their source maps
 * ```
 */
export const layout = {
  keys: (dir: string) => join(dir, 'keys.json'),
  aliases: (dir: string) => join(dir, 'aliases.json'),
  authorizationServer: (dir: string) => join(dir, 'oauth-authorization-server.json'),
  plugin: (dir: string, kind: PluginKind, name: string) => join(dir, kind, name),
  descriptor: (dir: string, kind: PluginKind, name: string, version: string) =>
    join(dir, kind, name, `${version}.json`),
  packages: (dir: string) => join(dir, 'packages'),
  package: (dir: string, hex: string) => join(dir, 'packages', `${hex}.js`),
  /** The package URL descriptors carry, relative to the catalogue's origin. */
  packageUrl: (hex: string) => `/packages/${hex}.js`,
};
