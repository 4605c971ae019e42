import { describe, expect, it } from 'vitest';
import { BrowserWorkerHost } from './worker-host.js';

describe('BrowserWorkerHost and the policy', () => {
  it('refuses a policy naming certificate authorities: the page’s WebSocket verifies with the browser’s own store', async () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(
      () => new BrowserWorkerHost({ workerUrl: 'https://a.example/w.js', policy: { tls: { ca: [ca] } } }),
    ).toThrow(/^PF_ERR_POLICY: .*tls\.ca/);
    const host = new BrowserWorkerHost({
      workerUrl: 'https://a.example/w.js',
      policy: { tls: { ca: [] } },
      // Node has no Web Worker to start.
      spare: false,
    });
    await host.terminate();
  });
});
