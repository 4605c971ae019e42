import { type TransformFailure, transform } from 'esbuild';
import { ProtoflyError } from '../../core/errors.js';
import { descriptorKey, type StubPackage } from '../../core/plugin.js';
import { bundleScript, wrapScript } from '../script.js';

/**
 * Turns a package (one ES module whose default export is `activate`) into a package script
 * (see `../script.ts`), once per package version.
 *
 * Why not the Compartment's own module support: it needs a module-source parser (Babel-based)
 * loaded into every worker, and is slower per package. A bundle from `protofly publish` only
 * needs its closing `export` rewritten ({@link bundleScript}: microseconds). Anything else goes
 * through a CommonJS transform with esbuild, already a run-time dependency: plain code around
 * `module.exports`, in 1 to 5 ms; an `import` left in a package becomes `require(...)`, which
 * the sandbox refuses.
 */
export async function packageScript(source: string, label: string): Promise<string> {
  const bundled = bundleScript(source);
  if (bundled !== undefined) return bundled;
  try {
    const { code } = await transform(source, {
      format: 'cjs',
      target: 'es2022',
      loader: 'js',
      sourcefile: label,
      logLevel: 'silent',
    });
    return wrapScript(code);
  } catch (err) {
    const first = (err as TransformFailure).errors?.[0]?.text ?? (err as Error).message;
    throw new ProtoflyError(
      'PF_ERR_SANDBOX',
      `package ${label} is not an ES module the sandbox can run: ${first}`,
      {
        package: label,
      },
    );
  }
}

/** Starts esbuild's service ahead of the first package, so that a cold package does not pay for it. */
export function warmTransform(): void {
  transform('', { logLevel: 'silent' }).catch(() => {});
}

/** The scripts of the package versions a host has seen, each transformed once, by {@link descriptorKey}. */
export class ScriptCache {
  readonly #scripts = new Map<string, Promise<string>>();

  /** The script of `pkg`, transformed on first use. */
  get(pkg: StubPackage): Promise<string> {
    const key = descriptorKey(pkg.descriptor);
    let script = this.#scripts.get(key);
    if (!script) {
      const { domain, name, version } = pkg.descriptor;
      script = packageScript(pkg.source, `${domain}/${name}@${version}`);
      // A failed transform is not cached (and not unhandled: the caller awaits it).
      script.catch(() => this.#scripts.delete(key));
      this.#scripts.set(key, script);
    }
    return script;
  }

  /** Forgets the script of `pkg` (the host unloads it). */
  forget(pkg: StubPackage): void {
    this.#scripts.delete(descriptorKey(pkg.descriptor));
  }
}
