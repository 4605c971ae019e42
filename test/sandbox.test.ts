import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '../core/bus.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { converse } from './support/conversation.js';
import { verifiedPackageOf } from './support/packages.js';

const probeDir = join(import.meta.dirname, 'stubs/probe');

describe('NodeWorkerHost', () => {
  let host: NodeWorkerHost;
  let bus: Bus;
  beforeAll(async () => {
    host = new NodeWorkerHost();
    bus = new Bus();
    await host.ready();
  });
  afterAll(async () => {
    await host.terminate();
    bus.close();
  });

  it('runs a stub: activate, live, echo through the bus', async () => {
    const c = await converse(host, bus, await verifiedPackageOf(probeDir));
    const res = await c.echo('hello');
    expect(res.body).toMatchObject({ code: 200, value: { echo: { value: { text: 'hello' } } } });
    expect(c.statuses.map((s) => s.status)).toEqual(['live']);
    const r2 = await c.execute('random');
    expect(r2.body.value).toEqual(['number', 'number', 'string']);
    await c.handle.stop();
    expect(c.handle.status).toBe('stopped');
  });
});
