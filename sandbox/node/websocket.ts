import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction, Socket } from 'node:net';
import WebSocket from 'ws';
import { batchWrites } from '../../node/write-batch.js';
import type { SocketFactory } from '../sockets.js';

/** Time a WebSocket opening handshake may take. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Resolves a name to all its addresses, as `dns.lookup` with `all: true` does. */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for `net`/`tls` that resolves with `resolve`, then hands `check` every address
 * before the socket may connect to any: when one throws, the lookup fails with that error and
 * nothing is connected. Checking what is connected to, not what the name looked like, is what
 * keeps DNS rebinding (a name that answers with a loopback or private address) out.
 */
export function checkedLookup(
  check: (address: string) => void,
  resolve: Resolver = dnsLookup,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      try {
        if (addresses.length === 0) throw new Error(`${hostname} resolved to no address`);
        for (const { address } of addresses) check(address);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
}

/**
 * The Node socket factory on `ws`: no redirects, no compression, bounded payloads, and every
 * address the host resolves to checked before connecting. `resolve` is for tests that stand
 * in for DNS.
 */
export function webSocketFactory(resolve: Resolver = dnsLookup): SocketFactory {
  return (url, protocols, events, { maxPayload, checkAddress }) => {
    const ws = new WebSocket(url, [...protocols], {
      followRedirects: false,
      perMessageDeflate: false,
      maxPayload,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      lookup: checkedLookup(checkAddress, resolve),
    });
    let socket: Socket | undefined;
    ws.on('upgrade', (res) => {
      socket = res.socket;
    });
    ws.on('open', () => events.open(ws.protocol));
    ws.on('message', (data) => events.message(String(data)));
    ws.on('close', (code, reason) => events.close(code, reason.toString()));
    ws.on('error', (err) => events.error(err.message));
    return {
      send: (data) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (socket) batchWrites(socket);
        ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    };
  };
}

/** The Node socket factory, resolving with the system's resolver. */
export const openWebSocket: SocketFactory = webSocketFactory();
