/**
 * `protofly/stub/testing`: runs a stub in the test process against a real server, without a
 * sandbox, as the built-in stubs' own tests do.
 */
export * from '../sandbox/node/direct-context.js';
