import { developmentPolicy } from '../../runtime/policy.js';
import { InlineHost } from '../../sandbox/node/inline-host.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { HOST_TEST_DOMAINS, hostConformance } from './host.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

hostConformance({
  name: 'NodeWorkerHost',
  create: ({ watchdogMs }) => new NodeWorkerHost({ policy: developmentPolicy, log: silent, watchdogMs }),
  limits: { memory: true, cpu: true },
});

// Same thread, no isolation: no memory bound, no watchdog (sandbox/README.md).
hostConformance({
  name: 'InlineHost',
  create: () => new InlineHost({ policy: developmentPolicy, log: silent, trustedDomains: HOST_TEST_DOMAINS }),
  limits: { memory: false, cpu: false },
});
