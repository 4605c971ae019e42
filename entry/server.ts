/**
 * `protofly/server`: what a provider runs for a domain, for those who embed it rather than run
 * `protofly serve`: the whole domain in one process, or its parts (catalogue server and
 * publishing, messaging node, token endpoint, the protofly side of a SIP domain).
 */

export { type DomainKey, generateDomainKey, readDomainKey } from '../server/catalogue/keys.js';
export { type PublishOptions, type PublishResult, publish } from '../server/catalogue/publish.js';
export {
  type CatalogueServer,
  type CatalogueServerOptions,
  createCatalogueServer,
} from '../server/catalogue/server.js';
export {
  BUILTIN_STUBS,
  type DomainOptions,
  type LocalDomains,
  type RunningDomain,
  startDomain,
  startLocalDomains,
} from '../server/domain.js';
export {
  TOKEN_PATH,
  type TokenEndpointOptions,
  type TokenResponse,
  tokenEndpoint,
} from '../server/identity/token-endpoint.js';
export { CLOSE, type MessagingNode, startMessagingNode } from '../server/messaging-node/messaging-node.js';
export type { MessagingNodeOptions } from '../server/messaging-node/options.js';
export type { Identity, Services } from '../server/services/service.js';
export { type RunningSipDomain, type SipDomainOptions, startSipDomain } from '../server/sip-domain.js';
