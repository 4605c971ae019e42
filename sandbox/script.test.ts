import { describe, expect, it } from 'vitest';
import { bundleScript } from './script.js';

/** Evaluates a package script the way a realm does, here without a compartment. */
function run(script: string): unknown {
  const module: { exports: { default?: unknown } } = { exports: {} };
  new Function(`return ${script}`)()(module, module.exports, () => {
    throw new Error('no require');
  });
  return module.exports.default;
}

describe('bundleScript', () => {
  it("rewrites esbuild's closing export, as printed and as minified", () => {
    const pretty =
      'function activate(ctx) {\n  return 42;\n}\nvar index_default = activate;\nexport {\n  index_default as default\n};\n';
    expect((run(bundleScript(pretty)!) as () => number)()).toBe(42);
    const minified = 'function a(){return 7}var b=a;export{b as default};';
    expect((run(bundleScript(minified)!) as () => number)()).toBe(7);
  });

  it('takes `export` and `import` inside longer words for what they are: no module syntax', () => {
    const source = 'var k = s => s.exportKey("raw", s.importKey);\nexport { k as default };';
    expect(bundleScript(source)).toContain('module.exports = { default: k };');
  });

  it.each([
    ['an export default declaration', 'export default function activate() {}'],
    ['another export before it', 'export const x = 1;\nvar d = 1;\nexport { d as default };'],
    ['the word export anywhere before it', 'var s = "export";\nexport { s as default };'],
    ['an import', 'import x from "y";\nexport { x as default };'],
    ['the word import anywhere', 'var important = 1; var s = "import";\nexport { s as default };'],
    ['something after it', 'var d = 1;\nexport { d as default };\nd = 2;'],
    ['other names exported with it', 'var d = 1, e = 2;\nexport { d as default, e };'],
  ])('leaves %s to a full transform', (_why, source) => {
    expect(bundleScript(source)).toBeUndefined();
  });
});
