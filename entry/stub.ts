/** `protofly/stub`: the stub contract, what a stub's `activate(ctx)` is given and returns. */
export * from '../core/stub.js';
