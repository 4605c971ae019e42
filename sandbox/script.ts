/**
 * Package scripts: what a realm evaluates for a package. A Compartment evaluates scripts, not
 * modules, so a package (one self-contained ES module whose default export is `activate`)
 * becomes a script that evaluates to `function (module, exports, require)`; calling it sets
 * `module.exports.default`. Nothing here gives the package any power: it runs in its
 * compartment whatever its text says, so a package that defeats the rewrite only fails to
 * evaluate (a leftover `import` or `export` is a syntax error in a script).
 */

/** Wraps CommonJS-style code into a package script. */
export function wrapScript(body: string): string {
  return `(function (module, exports, require) {\n${body}\n})`;
}

/** esbuild's ESM epilogue, the only module syntax in a bundle `protofly publish` makes. */
const EPILOGUE = /\bexport\s*\{\s*([A-Za-z_$][\w$]*)\s+as\s+default\s*\}\s*;?\s*$/;

/**
 * The script of a package whose only module syntax is esbuild's closing
 * `export { x as default };`, rewritten in place, or undefined when the text might hold
 * any other module syntax (then a full transform is needed). It is sure only when the
 * words `export` (once: the epilogue) and `import` (never) say so, which takes two scans of
 * the text rather than a parse.
 */
export function bundleScript(source: string): string | undefined {
  const epilogue = EPILOGUE.exec(source);
  // Words, not substrings: `subtle.exportKey` is no module syntax.
  if (!epilogue || /\bexport\b/.exec(source)?.index !== epilogue.index || /\bimport\b/.test(source))
    return undefined;
  return wrapScript(`${source.slice(0, epilogue.index)}module.exports = { default: ${epilogue[1]} };`);
}
