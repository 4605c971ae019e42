import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ERROR_DOCS } from './error-docs.js';
import {
  asProtoflyError,
  closeCodeOf,
  ERRORS,
  type ErrorCode,
  isErrorCode,
  isProtoflyError,
  isStubErrorCode,
  ProtoflyError,
  statusOf,
} from './errors.js';

describe('ProtoflyError', () => {
  it('is recognised from another copy of its module, as an in-process backend bundles one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-errors-'));
    try {
      const out = await build({
        entryPoints: [join(import.meta.dirname, 'errors.ts')],
        bundle: true,
        format: 'esm',
        platform: 'node',
        write: false,
        logLevel: 'silent',
      });
      const file = join(dir, 'errors.mjs');
      await writeFile(file, out.outputFiles[0]!.text);
      const copy = (await import(pathToFileURL(file).href)) as typeof import('./errors.js');
      const foreign = new copy.ProtoflyError('PF_ERR_EXISTS', "user 'frank' exists");
      expect(foreign).not.toBeInstanceOf(ProtoflyError);
      expect(isProtoflyError(foreign)).toBe(true);
      expect(isProtoflyError(foreign, 'PF_ERR_EXISTS')).toBe(true);
      expect(isProtoflyError(foreign, 'PF_ERR_CONFIG')).toBe(false);
      expect(isProtoflyError(new Error('PF_ERR_EXISTS: not ours'))).toBe(false);
      expect(isProtoflyError(null)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the error table', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[];

  it('gives every code a docs line, an HTTP status and, where one is, a close code RFC 6455 allows', () => {
    for (const code of codes) {
      const spec: { status: number; close?: number } = ERRORS[code];
      expect(code).toMatch(/^PF_ERR_[A-Z_]+$/);
      expect(ERROR_DOCS[code].length, code).toBeGreaterThan(20);
      expect(spec.status >= 400 && spec.status <= 599, code).toBe(true);
      // §7.4.2: 1000-2999 are the protocol's (1004-1006 and 1015 never sent), 4000-4999 private.
      if (spec.close !== undefined) {
        expect(
          [1008, 1009, 1011, 1013].includes(spec.close) || (spec.close >= 4000 && spec.close < 5000),
          code,
        ).toBe(true);
        // A private close code is a refusal the same request will not get past: 4000 + its status.
        if (spec.close >= 4000) expect(spec.close, code).toBe(4000 + spec.status);
      }
      const err = new ProtoflyError(code, 'x');
      expect(err.status).toBe(spec.status);
    }
  });

  it('closes for a code without its own close code with 1011 for a failure of ours, else 1008', () => {
    expect(closeCodeOf('PF_ERR_STORAGE')).toBe(1011);
    expect(closeCodeOf('PF_ERR_SCHEMA')).toBe(1008);
    expect(closeCodeOf('PF_ERR_AUTH')).toBe(4401);
  });

  it('reads codes that came over a wire without trusting them', () => {
    expect(statusOf('PF_ERR_NO_ROUTE')).toBe(404);
    for (const forged of ['toString', '__proto__', 'constructor', 'PF_ERR_NOPE', '']) {
      expect(isErrorCode(forged), forged).toBe(false);
      expect(statusOf(forged), forged).toBe(500);
    }
  });

  it('lets a stub fail with what the far side did, never with a runtime verdict', () => {
    const stubCodes = codes.filter(isStubErrorCode);
    expect(stubCodes).toContain('PF_ERR_AUTH');
    for (const verdict of [
      'PF_ERR_POLICY',
      'PF_ERR_SIGNATURE',
      'PF_ERR_INTEGRITY',
      'PF_ERR_UNTRUSTED_KEY',
      'PF_ERR_SANDBOX',
      'PF_ERR_WATCHDOG',
      'PF_ERR_MEMORY',
      'PF_ERR_SPOOF',
      'PF_ERR_ENDPOINT',
      'PF_ERR_FLOOD',
    ]) {
      expect(isStubErrorCode(verdict), verdict).toBe(false);
    }
  });
});

describe('asProtoflyError', () => {
  it("keeps a coded error as it is, and wraps anything else with the caller's code and the original as cause", () => {
    const coded = new ProtoflyError('PF_ERR_AUTH', 'refused');
    expect(asProtoflyError(coded, 'PF_ERR_SANDBOX')).toBe(coded);
    const thrown = new TypeError('x is not a function');
    const wrapped = asProtoflyError(thrown, 'PF_ERR_SANDBOX', 'activate');
    expect(wrapped.code).toBe('PF_ERR_SANDBOX');
    expect(wrapped.message).toBe('PF_ERR_SANDBOX: activate: x is not a function');
    expect(wrapped.cause).toBe(thrown);
    expect(asProtoflyError('a string', 'PF_ERR_INTERNAL').message).toBe('PF_ERR_INTERNAL: a string');
  });
});
