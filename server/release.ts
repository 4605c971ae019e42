import { join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { type PublishResult, publish } from './catalogue/publish.js';
import type { RunningDomain } from './domain.js';

/**
 * Releases a new version of a running domain's stub: publishes `pluginDir` as `version` into
 * the domain's catalogue, signed with its key, with the deployment of the version it follows
 * (the endpoints and the `url` default the domain gave it). The catalogue announces it; runtimes
 * that run the stub take it by their update policy.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when the domain published no stub of that name, or the
 *   version exists with other content; anything `publish` throws.
 */
export async function releaseStub(
  domain: RunningDomain,
  options: { readonly pluginDir: string; readonly version: string; readonly name?: string },
): Promise<PublishResult> {
  const name = options.name ?? 'json-ws';
  const follows = domain.published.find((p) => p.descriptor.kind === 'stub' && p.descriptor.name === name);
  if (!follows) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${domain.domain} published no stub named '${name}' to release a version of`,
      {
        name,
      },
    );
  }
  const d = follows.descriptor;
  const url = d.configuration.defaults?.url;
  return publish({
    pluginDir: options.pluginDir,
    key: domain.key,
    // Where startDomain keeps the domain's catalogue.
    out: join(domain.dataDir, 'catalogue'),
    version: options.version,
    deployment: {
      endpoints: d.kind === 'stub' ? d.constraints.endpoints : [],
      ...(typeof url === 'string' ? { defaults: { url } } : {}),
    },
  });
}
