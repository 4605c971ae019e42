import { join } from 'node:path';
import semver from 'semver';
import { ProtoflyError } from '../core/errors.js';
import type { StubDescriptor } from '../core/generated/types.js';
import type { DomainKey } from './catalogue/keys.js';
import {
  type PublishResult,
  publish,
  publishDescriptor,
  publishedVersions,
  readManifest,
  readPublished,
} from './catalogue/publish.js';
import type { RunningDomain } from './domain.js';

/**
 * A provider's releases and rollbacks of a stub its domain serves, into the domain's catalogue
 * directory: what `protofly release` and `protofly rollback` do, and what a running domain does
 * in-process. The catalogue announces each; runtimes take it by their update policy.
 *
 * A release keeps what the domain filled in for its deployment (the endpoints and the defaults
 * the manifest does not set, such as json-ws's `url`), and is refused before anyone could load
 * it when its configuration, so filled in, does not satisfy its own schema.
 *
 * A rollback is a release too: a higher version carrying an earlier version's package and
 * configuration, signed as a rollback (`rollback: {of, to}`). Versions only move forward, so a
 * runtime's downgrade protection stays as strict as it is: the earlier descriptor itself is
 * still refused as a downgrade, and only what the domain signed now brings its package back.
 */

/** common.schema.json#/$defs/pluginName: a name is also a folder of the catalogue. */
export const PLUGIN_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Where a stub is released: a domain's catalogue directory and its key. */
export interface ReleaseTarget {
  readonly catalogueDir: string;
  readonly key: DomainKey;
}

/**
 * Publishes `pluginDir` as a new version of the published stub it follows (its manifest's
 * name, unless `name`), as `version` (default: the manifest's).
 *
 * @throws ProtoflyError `PF_ERR_NOT_FOUND` when no stub of that name is published to follow,
 *   `PF_ERR_CONFIG` for a version older than the newest published or taken with other content,
 *   `PF_ERR_SCHEMA` naming the configuration field the release would leave unsatisfied,
 *   `PF_ERR_FOREIGN_KEY` for another domain's catalogue; anything `publish` throws.
 */
export async function release(
  target: ReleaseTarget,
  options: { readonly pluginDir: string; readonly version?: string; readonly name?: string },
): Promise<PublishResult> {
  const manifest = await readManifest(options.pluginDir);
  if (manifest.kind !== 'stub') {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${options.pluginDir} is a ${manifest.kind}; release publishes stubs (protofly publish publishes a backend)`,
      { kind: manifest.kind },
    );
  }
  const name = options.name ?? manifest.name;
  const version = semverOf(options.version ?? manifest.version, 'version');
  const follows = await newest(target, name);
  if (semver.lt(version, follows.version)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `version ${version} is older than ${name}@${follows.version}, the newest published: runtimes would refuse it as a downgrade (protofly rollback brings an earlier version back)`,
      { version, newest: follows.version },
    );
  }
  const set = manifest.configuration?.defaults ?? {};
  const deployed = Object.entries(follows.configuration.defaults ?? {}).filter(([k]) => !(k in set));
  return publish({
    pluginDir: options.pluginDir,
    key: target.key,
    out: target.catalogueDir,
    version,
    deployment: { endpoints: follows.constraints.endpoints, defaults: Object.fromEntries(deployed) },
    complete: true,
  });
}

/**
 * Makes the published version `to` of stub `name` current again: publishes its package and
 * configuration as `version` (default: the newest published version's next patch), signed as
 * a rollback of the newest.
 *
 * @throws ProtoflyError `PF_ERR_NOT_FOUND` when `to` is not published, `PF_ERR_CONFIG` when it
 *   is the newest already or `version` is not newer than the newest; as {@link release}.
 */
export async function rollback(
  target: ReleaseTarget,
  options: { readonly name: string; readonly to: string; readonly version?: string },
): Promise<PublishResult> {
  const { name } = options;
  const to = semverOf(options.to, 'version to roll back to');
  const from = await newest(target, name);
  const earlier = (await readPublished(target.catalogueDir, 'stub', name, to)) as StubDescriptor | undefined;
  if (!earlier) {
    const versions = await publishedVersions(target.catalogueDir, 'stub', name);
    throw new ProtoflyError(
      'PF_ERR_NOT_FOUND',
      `${name}@${to} is not published (published: ${versions.join(', ')})`,
      {
        name,
        version: to,
      },
    );
  }
  if (!semver.lt(to, from.version)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${name}@${to} is the newest version already: nothing to roll back`,
      {
        name,
        version: to,
      },
    );
  }
  const version = options.version ?? (semver.inc(from.version, 'patch') as string);
  if (!semver.valid(version) || !semver.gt(version, from.version)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `a rollback is published as a version higher than ${from.version}, the newest; not '${version}'`,
      { version, newest: from.version },
    );
  }
  const { signature: _, rollback: __, ...fields } = earlier;
  const unsigned: Omit<StubDescriptor, 'signature'> = {
    ...fields,
    version,
    rollback: { of: from.version, to },
  };
  return publishDescriptor(unsigned, {
    key: target.key,
    out: target.catalogueDir,
    complete: true,
    from: `${name}@${to} in ${target.catalogueDir}`,
  });
}

function semverOf(version: string, what: string): string {
  if (!semver.valid(version)) {
    throw new ProtoflyError('PF_ERR_CONFIG', `${what} '${version}' is not a semantic version (1.2.3)`, {
      version,
    });
  }
  return version;
}

/** The newest published version of stub `name`, which a release follows. */
async function newest(target: ReleaseTarget, name: string): Promise<StubDescriptor> {
  if (!PLUGIN_NAME.test(name)) {
    throw new ProtoflyError('PF_ERR_CONFIG', `'${name}' is not a stub name`, { name });
  }
  const [version] = await publishedVersions(target.catalogueDir, 'stub', name);
  const d = version && (await readPublished(target.catalogueDir, 'stub', name, version));
  if (!d) {
    throw new ProtoflyError(
      'PF_ERR_NOT_FOUND',
      `no stub named '${name}' is published in ${target.catalogueDir} to release a version of`,
      { name },
    );
  }
  return d as StubDescriptor;
}

/** {@link release} into a domain running in this process (the demo, the tests, the benchmark). */
export function releaseStub(
  domain: RunningDomain,
  options: { readonly pluginDir: string; readonly version: string; readonly name?: string },
): Promise<PublishResult> {
  return release({ catalogueDir: join(domain.dataDir, 'catalogue'), key: domain.key }, options);
}
