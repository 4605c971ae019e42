import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';
import { PROTOCOL } from './frames.js';

/** The node's origin policy at the WebSocket upgrade, over real sockets. */

const ALICE = 'user://a.example/alice';
const APP = 'https://app.a.example';

let domains: TwoDomains | undefined;
afterEach(() => domains?.close());

/** A pino logger whose lines land in `lines`. */
function recording(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

/** What the node answers a handshake from a page of `origin`: the refusal's status and body. */
function refusal(url: string, origin: string): Promise<{ status: number; type?: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, PROTOCOL, { origin });
    ws.on('open', () => reject(new Error(`a page of ${origin} was let in`)));
    ws.on('error', () => {}); // the refusal is read from the response below
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: JSON.parse(text) }),
      );
    });
  });
}

describe('messaging node: page origins', () => {
  it('refuses a page of an origin not allowed at the upgrade: 403, PF_ERR_ORIGIN as JSON, a log line, counted', async () => {
    const lines: Record<string, unknown>[] = [];
    domains = await twoDomains({ origins: [APP], log: recording(lines) });
    for (const origin of [
      'https://evil.example',
      'null',
      'https://app.a.example:8443',
      'http://app.a.example',
    ]) {
      expect(await refusal(domains.node.url, origin)).toEqual({
        status: 403,
        type: 'application/json',
        body: {
          error: {
            code: 'PF_ERR_ORIGIN',
            message: `PF_ERR_ORIGIN: pages of ${origin} may not use the messaging node of b.example (not in the domain config's browsers origins)`,
          },
        },
      });
    }
    expect(domains.node.metrics.refused.get('PF_ERR_ORIGIN')).toBe(4);
    expect(domains.node.connections).toBe(0);
    const refused = lines.filter((l) => l.msg === 'WebSocket refused: page origin not allowed');
    expect(refused.map((l) => [l.code, l.origin])).toEqual([
      ['PF_ERR_ORIGIN', 'https://evil.example'],
      ['PF_ERR_ORIGIN', 'null'],
      ['PF_ERR_ORIGIN', 'https://app.a.example:8443'],
      ['PF_ERR_ORIGIN', 'http://app.a.example'],
    ]);
  });

  it('admits a page of an allowed origin, and a client that sends no Origin (no browser), to authenticate as usual', async () => {
    domains = await twoDomains({ origins: [APP] });
    for (const options of [{ origin: APP }, {}]) {
      const client = new JsonWsClient(domains.node.url, options);
      await client.opened();
      client.send({ t: 'auth', token: await domains.token(ALICE) });
      expect(await client.take((f) => f.t === 'ready')).toMatchObject({ address: ALICE });
      client.ws.close();
    }
  });

  it('refuses every page by default, and admits any page but an opaque origin under *', async () => {
    domains = await twoDomains();
    expect((await refusal(domains.node.url, APP)).status).toBe(403);
    await domains.close();
    domains = await twoDomains({ origins: ['*'] });
    const client = new JsonWsClient(domains.node.url, { origin: 'https://anywhere.example' });
    await client.opened();
    client.ws.close();
    expect((await refusal(domains.node.url, 'null')).status).toBe(403);
  });
});
