/**
 * `protofly/server`: what a provider runs for a domain, for those who embed it rather than run
 * `protofly serve`: the whole domain in one process, or its parts (catalogue server and
 * publishing, messaging node, token endpoint, the protofly side of a SIP domain).
 */
export type { Identity, Services } from '../core/service.js';
export { type DomainKey, generateDomainKey, readDomainKey } from './catalogue/keys.js';
export { type PublishOptions, type PublishResult, publish } from './catalogue/publish.js';
export {
  type CatalogueServer,
  type CatalogueServerOptions,
  createCatalogueServer,
} from './catalogue/server.js';
export {
  BUILTIN_STUBS,
  type DomainOptions,
  type LocalDomains,
  type RunningDomain,
  startDomain,
  startLocalDomains,
} from './domain.js';
export {
  TOKEN_PATH,
  type TokenEndpointOptions,
  type TokenResponse,
  tokenEndpoint,
} from './identity/token-endpoint.js';
export { CLOSE, type MessagingNode, startMessagingNode } from './messaging-node/messaging-node.js';
export type { MessagingNodeOptions } from './messaging-node/options.js';
export { type RunningSipDomain, type SipDomainOptions, startSipDomain } from './sip-domain.js';
