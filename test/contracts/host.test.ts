import { describe, expect, it } from 'vitest';
import { developmentPolicy } from '../../runtime/policy.js';
import { createNodeHost } from '../../sandbox/isolate/choose.js';
import { IsolateHost } from '../../sandbox/isolate/isolate-host.js';
import { loadIsolatedVm } from '../../sandbox/isolate/isolated-vm.js';
import { InlineHost } from '../../sandbox/node/inline-host.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { HOST_TEST_DOMAINS, hostConformance } from './host.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

hostConformance({
  name: 'NodeWorkerHost',
  create: ({ watchdogMs }) => new NodeWorkerHost({ policy: developmentPolicy, log: silent, watchdogMs }),
  limits: { memory: true, cpu: true },
  measures: true,
});

hostConformance({
  name: 'NodeWorkerHost, a process per sandbox',
  create: ({ watchdogMs }) =>
    new NodeWorkerHost({ policy: developmentPolicy, log: silent, watchdogMs, isolation: 'process' }),
  limits: { memory: true, cpu: true },
  measures: true,
});

hostConformance({
  name: 'InlineHost',
  create: () => new InlineHost({ policy: developmentPolicy, log: silent, trustedDomains: HOST_TEST_DOMAINS }),
  limits: { memory: false, cpu: false },
  measures: false,
  unclaimed: 'same thread, no isolation: no memory bound, no watchdog (sandbox/README.md)',
});

// isolated-vm 7 has binaries for Node 24 and later only; below, npm does not install it.
const isolates = Number(process.versions.node.split('.')[0]) >= 24;
const isolatedVm = loadIsolatedVm();

if (isolates) {
  describe('IsolateHost loads', () => {
    it('isolated-vm loads on this Node (the properties below need it)', () => {
      expect(isolatedVm.reason).toBeUndefined();
    });
  });
  hostConformance({
    name: 'IsolateHost',
    create: ({ watchdogMs }) => {
      // Fails every property, named, rather than skipping them.
      if (!isolatedVm.ivm) throw new Error(`the isolate host does not load: ${isolatedVm.reason}`);
      return new IsolateHost(isolatedVm.ivm, { policy: developmentPolicy, log: silent, watchdogMs });
    },
    limits: { memory: true, cpu: true },
    measures: true,
  });
} else {
  describe(`IsolateHost on Node ${process.version}`, () => {
    it('does not load, and the worker host runs the stubs instead, saying why', async () => {
      expect(isolatedVm.ivm).toBeUndefined();
      const warnings: string[] = [];
      const choice = createNodeHost('isolate', {
        policy: developmentPolicy,
        log: { ...silent, warn: (_fields, msg) => warnings.push(msg) },
      });
      try {
        expect(choice.kind).toBe('worker');
        expect(choice.host).toBeInstanceOf(NodeWorkerHost);
        expect(choice.fallback).toContain(isolatedVm.reason);
        expect(warnings).toEqual([choice.fallback]);
      } finally {
        await choice.host.terminate();
      }
    });
  });
}

describe('a process per sandbox', () => {
  it('is asked for by name: the worker host, whose sandboxes are child processes of the runtime', async () => {
    const choice = createNodeHost('process', { policy: developmentPolicy, log: silent });
    try {
      expect(choice.kind).toBe('process');
      expect(choice.host).toBeInstanceOf(NodeWorkerHost);
      expect(choice.fallback).toBeUndefined();
    } finally {
      await choice.host.terminate();
    }
  });
});

describe('the default Node host', () => {
  it('is the worker host on every Node, isolated-vm or not: it is not tried, nothing is logged', async () => {
    const lines: string[] = [];
    const log = (_fields: unknown, msg: string) => lines.push(msg);
    const choice = createNodeHost(undefined, {
      policy: developmentPolicy,
      log: { debug: log, info: log, warn: log, error: log },
    });
    try {
      expect(choice.kind).toBe('worker');
      expect(choice.host).toBeInstanceOf(NodeWorkerHost);
      expect(choice.fallback).toBeUndefined();
      expect(lines).toEqual([]);
    } finally {
      await choice.host.terminate();
    }
  });
});
