import { describe, it, vi } from 'vitest';
import { stubConformance } from '../../../entry/stub-testing.js';
import { jsonWsConformance } from '../../../test/support/json-ws-conformance.js';

/** json-ws passes the stub conformance suite against a real messaging node (see the options). */
stubConformance(jsonWsConformance({ describe, it, timers: vi }));
