/**
 * The layering, checked: every source file's imports (static, `import type`, re-exports and
 * dynamic `import()`) against the table below, the one statement of which folder may import
 * which (docs/architecture.md says it in prose). A file in no layer fails too, so a new folder
 * has to be placed in the table.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * A layer: the files whose path starts with `folder` (the longest match wins). `plugin` marks a
 * folder of plugins: each `<folder><name>/` is one plugin, which may import its own folder,
 * the kind's shared files (`<folder>*.ts`, a kit such as backends' redis-connection.ts) and
 * `may`, but never another plugin.
 */
interface Layer {
  readonly folder: string;
  /** Layers this one may import besides itself; '*' is any. */
  readonly may: readonly string[] | '*';
  readonly plugin?: true;
  /** No Node built-ins: it runs in browsers (or, for stubs, in a sandbox that has none). */
  readonly browser?: true;
}

/**
 * npm packages code that runs in browsers may not import: a container that needs the
 * reflect-metadata global (runtime/ wires its parts by hand).
 */
const NOT_IN_BROWSERS = ['tsyringe', 'reflect-metadata', 'ajv'];

/** Which folder may import which. Lower layers first. */
const LAYERS: readonly Layer[] = [
  { folder: 'schemas/', may: [] },
  { folder: 'core/', may: [], browser: true },
  { folder: 'runtime/', may: ['core/'], browser: true },
  { folder: 'node/', may: ['core/'] },
  { folder: 'browser/', may: ['core/'], browser: true },
  { folder: 'sandbox/', may: ['core/', 'runtime/', 'node/'] },
  // The browser host: the shared host and worker sides, none of the Node hosts.
  { folder: 'sandbox/browser/', may: ['core/', 'runtime/', 'sandbox/'], browser: true },
  // What backends import: the backend contract and server-only services, none of the rest of server/.
  { folder: 'server/services/', may: ['core/', 'runtime/'] },
  { folder: 'server/', may: ['core/', 'runtime/', 'node/', 'server/services/'] },
  { folder: 'plugins/stubs/', may: ['core/'], plugin: true, browser: true },
  { folder: 'plugins/backends/', may: ['core/', 'server/services/'], plugin: true },
  // Plugins are loaded through the verifying loader, never imported by the package's code.
  {
    folder: 'entry/',
    may: [
      'core/',
      'runtime/',
      'node/',
      'browser/',
      'sandbox/',
      'sandbox/browser/',
      'server/services/',
      'server/',
    ],
  },
  {
    folder: 'cli/',
    may: ['core/', 'runtime/', 'node/', 'sandbox/', 'server/services/', 'server/', 'entry/'],
  },
  { folder: 'test/', may: '*' },
  { folder: 'bench/', may: '*' },
  { folder: 'scripts/', may: '*' },
];
/** What a unit test beside a file may import besides what that file's layer may. */
const TEST_EXTRAS = ['test/support/', 'entry/'];
/** Source files that are in no layer on purpose: tooling at the root. */
const OUTSIDE = ['bin/protofly.js', 'vitest.config.ts'];

/**
 * Known violations, as `importer → imported` file pairs, that other branches of issue 14 fix in
 * place. Removed when branch seams lands.
 */
const KNOWN_VIOLATIONS: readonly string[] = [];

/** One import of ours, or of a Node built-in. */
interface Edge {
  readonly from: string;
  /** Repository-relative file it names, `node:<name>` for a built-in, `npm:<name>` for a package. */
  readonly to: string;
  readonly specifier: string;
  /** Erased at build time (`import type`, `export type`, every named binding type-only). */
  readonly typeOnly: boolean;
}

const SOURCE = /\.(?:[cm]?[jt]s|tsx)$/;
const BUILTINS = new Set(builtinModules);

/** The imports of one source file, from its syntax tree. */
function importsOf(file: string, text: string, exists: (path: string) => boolean): Edge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: Edge[] = [];
  const add = (literal: ts.Node | undefined, typeOnly: boolean) => {
    if (!literal || !ts.isStringLiteralLike(literal)) return;
    const specifier = literal.text;
    if (specifier.startsWith('.')) {
      const target = posix.normalize(posix.join(posix.dirname(file), specifier));
      // NodeNext: `x.js` names `x.ts`.
      const source = target.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts');
      edges.push({
        from: file,
        to: !exists(target) && exists(source) ? source : target,
        specifier,
        typeOnly,
      });
    } else if (specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0]!)) {
      edges.push({ from: file, to: `node:${specifier.replace(/^node:/, '')}`, specifier, typeOnly });
    } else {
      const parts = specifier.split('/');
      const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      edges.push({ from: file, to: `npm:${name}`, specifier, typeOnly });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause;
      const allTypes =
        node.isTypeOnly ||
        (named !== undefined &&
          ts.isNamedExports(named) &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, allTypes);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** The layer a file is in: the longest folder that holds it. */
function layerOf(file: string, layers: readonly Layer[] = LAYERS): Layer | undefined {
  let best: Layer | undefined;
  for (const l of layers) {
    if (file.startsWith(l.folder) && (!best || l.folder.length > best.folder.length)) best = l;
  }
  return best;
}

const isTest = (file: string) => /\.test\.[cm]?[jt]s$/.test(file);
/** A plugin's own folder (`plugins/stubs/json-ws/`), or undefined for the kind's shared files. */
const pluginFolder = (file: string, layer: Layer) => {
  const rest = file.slice(layer.folder.length);
  const slash = rest.indexOf('/');
  return slash === -1 ? undefined : `${layer.folder}${rest.slice(0, slash + 1)}`;
};

/** Why an import breaks the layering, or undefined when it is allowed. */
function breaks(edge: Edge, layers: readonly Layer[] = LAYERS): string | undefined {
  const from = layerOf(edge.from, layers);
  if (!from) return undefined; // reported once per file by `unplaced`
  if (from.may === '*') return undefined;
  const test = isTest(edge.from);
  if (edge.to.startsWith('node:')) {
    return from.browser && !test ? `${from.folder} runs without Node: no Node built-ins` : undefined;
  }
  if (edge.to.startsWith('npm:')) {
    const browserOnly = from.browser && !test && !edge.typeOnly;
    return browserOnly && NOT_IN_BROWSERS.includes(edge.to.slice(4))
      ? `${from.folder} runs in browsers: not ${NOT_IN_BROWSERS.join(', ')}`
      : undefined;
  }
  const to = layerOf(edge.to, layers);
  const allowed = [from.folder, ...from.may, ...(test ? TEST_EXTRAS : [])];
  const rule = () =>
    `${from.folder} may import ${[...from.may, ...(from.plugin ? ['its own folder'] : [])].join(', ') || 'nothing of ours'}${test ? ` (a unit test also ${TEST_EXTRAS.join(', ')})` : ''}`;
  if (test && TEST_EXTRAS.some((f) => edge.to.startsWith(f))) return undefined;
  if (!to || !allowed.includes(to.folder)) return rule();
  if (from.plugin && to === from) {
    const own = pluginFolder(edge.from, from);
    const target = pluginFolder(edge.to, from);
    // A plugin imports its own folder and the kind's shared files; shared files import no plugin.
    if (target !== undefined && target !== own)
      return `${own ?? from.folder} may not import another plugin's folder`;
  }
  return undefined;
}

/** Cycles of imports that exist at run time (type-only imports are erased), as file lists. */
function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.typeOnly || e.to.startsWith('node:') || e.to.startsWith('npm:')) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  }
  // Tarjan's strongly connected components; each of more than one file is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return found;
}

/** Every finding: forbidden imports, import cycles, files in no layer. */
function check(
  files: readonly string[],
  edges: readonly Edge[],
  layers: readonly Layer[] = LAYERS,
): string[] {
  const out: string[] = [];
  for (const f of files) if (!layerOf(f, layers) && !OUTSIDE.includes(f)) out.push(`${f}: in no layer`);
  for (const e of edges) {
    const why = breaks(e, layers);
    if (why) out.push(`${e.from} imports ${e.to} ('${e.specifier}'): ${why}`);
  }
  for (const c of cycles(edges)) out.push(`import cycle: ${c.join(' ↔ ')}`);
  return out;
}

/** The repository's source files (git's list, so dist/ and node_modules/ are out) and their imports. */
function readRepository(root: string): { files: string[]; edges: Edge[] } {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => SOURCE.test(f) && !f.endsWith('.d.ts') && existsSync(join(root, f)));
  const exists = (p: string) => existsSync(join(root, p));
  const edges = files.flatMap((f) => importsOf(f, readFileSync(join(root, f), 'utf8'), exists));
  return { files, edges };
}

const root = join(import.meta.dirname, '..');

describe('layering', () => {
  it('every import of every source file follows the layer table, and no import cycle runs', () => {
    const { files, edges } = readRepository(root);
    expect(files.length).toBeGreaterThan(100);
    const found = check(files, edges);
    const unknown = found.filter((f) => !KNOWN_VIOLATIONS.some((k) => matches(f, k)));
    const stale = KNOWN_VIOLATIONS.filter((k) => !found.some((f) => matches(f, k)));
    expect(unknown, unknown.join('\n')).toEqual([]);
    expect(stale, `fixed, remove from KNOWN_VIOLATIONS:\n${stale.join('\n')}`).toEqual([]);
    // Parsing ~400 files takes about a second; ten times that and more on a loaded machine.
  }, 120_000);

  it('names the file, the import and the rule of a forbidden import', () => {
    const edge: Edge = {
      from: 'core/a.ts',
      to: 'runtime/b.ts',
      specifier: '../runtime/b.js',
      typeOnly: true,
    };
    expect(check(['core/a.ts', 'runtime/b.ts'], [edge])).toEqual([
      "core/a.ts imports runtime/b.ts ('../runtime/b.js'): core/ may import nothing of ours",
    ]);
  });

  it('keeps plugins apart, stubs off Node, and allows what the table allows', () => {
    const edge = (from: string, to: string): Edge => ({ from, to, specifier: to, typeOnly: false });
    expect(breaks(edge('plugins/stubs/sip-ws/index.ts', 'plugins/stubs/json-ws/backoff.ts'))).toBe(
      "plugins/stubs/sip-ws/ may not import another plugin's folder",
    );
    expect(breaks(edge('plugins/backends/a/index.ts', 'node/files.ts'))).toMatch(
      /^plugins\/backends\/ may import/,
    );
    expect(
      breaks(edge('plugins/backends/a/index.ts', 'plugins/backends/redis-connection.ts')),
    ).toBeUndefined();
    expect(breaks(edge('plugins/backends/redis-connection.ts', 'plugins/backends/a/index.ts'))).toMatch(
      /another plugin/,
    );
    expect(breaks(edge('plugins/stubs/a/index.ts', 'node:net'))).toMatch(/no Node built-ins/);
    expect(breaks(edge('plugins/stubs/a/index.test.ts', 'node:net'))).toBeUndefined();
    expect(breaks(edge('runtime/a.ts', 'npm:tsyringe'))).toMatch(/runs in browsers: not tsyringe/);
    expect(breaks(edge('core/a.ts', 'npm:reflect-metadata'))).toMatch(/runs in browsers/);
    expect(breaks(edge('runtime/a.ts', 'npm:canonicalize'))).toBeUndefined();
    expect(breaks(edge('server/a.ts', 'npm:tsyringe'))).toBeUndefined();
    expect(breaks(edge('server/x.test.ts', 'test/support/ports.ts'))).toBeUndefined();
    expect(breaks(edge('server/x.ts', 'test/support/ports.ts'))).toMatch(/^server\/ may import/);
    expect(breaks(edge('server/x.ts', 'sandbox/host.ts'))).toMatch(/^server\/ may import/);
    expect(breaks(edge('server/services/x.ts', 'server/domain.ts'))).toMatch(
      /^server\/services\/ may import/,
    );
    expect(breaks(edge('sandbox/x.ts', 'node/files.ts'))).toBeUndefined();
    expect(breaks(edge('cli/x.ts', 'plugins/backends/a/index.ts'))).toMatch(/^cli\/ may import/);
    expect(breaks(edge('test/x.test.ts', 'cli/main.ts'))).toBeUndefined();
  });

  it('finds run-time cycles, not type-only ones', () => {
    const edge = (from: string, to: string, typeOnly = false): Edge => ({
      from,
      to,
      specifier: to,
      typeOnly,
    });
    expect(cycles([edge('cli/a.ts', 'cli/b.ts'), edge('cli/b.ts', 'cli/a.ts')])).toEqual([
      ['cli/a.ts', 'cli/b.ts'],
    ]);
    expect(cycles([edge('cli/a.ts', 'cli/b.ts'), edge('cli/b.ts', 'cli/a.ts', true)])).toEqual([]);
  });

  it('reads import type, re-exports and dynamic import() from real files, and fails on them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pf-layers-'));
    try {
      const write = (file: string, text: string) => {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      };
      execFileSync('git', ['init', '-q'], { cwd: dir });
      write('server/domain.ts', 'export const domain = 1;\n');
      write('runtime/bus.ts', 'export type Bus = 1;\n');
      write('node/files.ts', 'export const files = 1;\n');
      write(
        'core/bad.ts',
        [
          "import type { Bus } from '../runtime/bus.js';",
          "export { domain } from '../server/domain.js';",
          "export const later = () => import('../node/files.js');",
          "import { join } from 'node:path';",
          'export type B = Bus;',
          'export const j = join;',
        ].join('\n'),
      );
      write('lost/x.ts', 'export {};\n');
      const { files, edges } = readRepository(dir);
      expect(check(files, edges).sort()).toEqual([
        "core/bad.ts imports node/files.ts ('../node/files.js'): core/ may import nothing of ours",
        "core/bad.ts imports node:path ('node:path'): core/ runs without Node: no Node built-ins",
        "core/bad.ts imports runtime/bus.ts ('../runtime/bus.js'): core/ may import nothing of ours",
        "core/bad.ts imports server/domain.ts ('../server/domain.js'): core/ may import nothing of ours",
        'lost/x.ts: in no layer',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A finding is a known violation `a → b` when it is about importing b from a (or is that cycle). */
function matches(finding: string, known: string): boolean {
  const [from, to] = known.split(' → ');
  return finding.startsWith(`${from} imports ${to} `) || finding === `import cycle: ${known}`;
}
