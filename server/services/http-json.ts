/**
 * JSON over HTTP for backends that talk to a service of their own (an OpenID Connect
 * provider's metadata, token endpoint and keys): bounded in size and time, redirects refused,
 * failures as `PF_ERR_FETCH`, as the catalogue client fetches everything.
 */
export { CatalogueClient as HttpJson } from '../../runtime/catalogue.js';
