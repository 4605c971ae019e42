/**
 * `protofly/stub/testing`: runs a stub in the test process against a real server, without a
 * sandbox, as the built-in stubs' own tests do; and the conformance suite every stub runs.
 */
export * from '../sandbox/node/conformance/stub-conformance.js';
export * from '../sandbox/node/direct-context.js';
