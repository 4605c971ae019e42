import { build } from 'esbuild';

/**
 * What a built stub would load at run time: every `import`, `export … from`, `require()` and
 * `import()` in its code, read by esbuild's parser (a regular expression would take a string
 * or a comment for one), and every `require`/`import()` whose argument esbuild cannot read
 * (a computed name). A sandboxed stub can load nothing: whatever this lists fails there.
 */
export async function runtimeImports(code: string): Promise<string[]> {
  const found: string[] = [];
  const result = await build({
    stdin: { contents: code, loader: 'js', sourcefile: 'stub.js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'silent',
    plugins: [
      {
        name: 'record-imports',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            found.push(`${args.kind} '${args.path}'`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  for (const w of result.warnings) {
    if (/\b(require|import)\b/.test(w.text))
      found.push(`${w.text} (${w.location?.lineText.trim().slice(0, 80)})`);
  }
  return found;
}
