import type { BackendDescriptor, StubDescriptor } from './generated/types.js';

/** A plugin's descriptor: a stub's or a backend's. */
export type Descriptor = StubDescriptor | BackendDescriptor;

/**
 * A package the loader has fetched and checked: its descriptor validated against the schema,
 * its bytes against `sourcePackage.integrity` and `size`, its signature against a trusted key
 * of the descriptor's domain, its engine range against this protofly. Only these reach a
 * sandbox host.
 */
export interface VerifiedPackage<D extends Descriptor = Descriptor> {
  readonly descriptor: D;
  /** The package: one self-contained ES module, exactly the bytes the integrity names, as UTF-8. */
  readonly source: string;
  /** Where the descriptor was fetched from. */
  readonly url: string;
  /** The key that verified the signature: `<domain>#<kid>`. */
  readonly signedBy: string;
}

/** A verified stub package: what sandbox hosts run and runtimes carry conversations on. */
export type StubPackage = VerifiedPackage<StubDescriptor>;

/** A package in messages and logs: `domain/name@version`. */
export function labelOf(pkg: StubPackage): string {
  const d = pkg.descriptor;
  return `${d.domain}/${d.name}@${d.version}`;
}

/**
 * Names a descriptor by what was verified: its signature covers every field, so the same
 * package bytes published by two catalogues (or two deployments) with other endpoints, limits
 * or configuration schemas are two keys. Whatever is compiled or cached from a remote
 * descriptor (a configuration validator, a package's script, its evaluation in a sandbox) is
 * keyed by this, never by the package bytes alone.
 */
export function descriptorKey(descriptor: Descriptor): string {
  return `${descriptor.domain}/${descriptor.name}@${descriptor.version} ${descriptor.signature.value}`;
}
