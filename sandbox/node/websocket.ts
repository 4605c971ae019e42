import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction, Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import WebSocket from 'ws';
import { ProtoflyError } from '../../core/errors.js';
import { batchWrites } from '../../node/write-batch.js';
import type { SocketFactory } from '../sockets.js';

/** Time a WebSocket opening handshake may take. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The codes of Node's TLS errors that say the server's certificate is not trusted (OpenSSL's
 * X509 verification results, as Node names them, and a certificate for another host): the
 * runtime's verdict, told as `PF_ERR_TLS`. Other TLS failures (a handshake alert, a server
 * that does not speak TLS) are the far side's, a connection lost like any.
 */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Node's roots plus a policy's CAs, made once per resolved policy (whose `ca` is one frozen array). */
const trustedWith = new WeakMap<readonly string[], string[]>();

function trusted(ca: readonly string[]): string[] {
  let list = trustedWith.get(ca);
  if (!list) {
    list = [...rootCertificates, ...ca];
    trustedWith.set(ca, list);
  }
  return list;
}

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
 * The Node socket factory on `ws`: no redirects, no compression, bounded payloads, every
 * address the host resolves to checked before connecting, and `wss://` servers' certificates
 * verified against Node's roots plus the policy's `ca` (passing `ca` replaces Node's default
 * store, so the bundled roots go with it); an untrusted one is refused as `PF_ERR_TLS`.
 * `resolve` is for tests that stand in for DNS.
 */
export function webSocketFactory(resolve: Resolver = dnsLookup): SocketFactory {
  return (url, protocols, events, { maxPayload, checkAddress, ca, refused }) => {
    const ws = new WebSocket(url, [...protocols], {
      followRedirects: false,
      perMessageDeflate: false,
      maxPayload,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      lookup: checkedLookup(checkAddress, resolve),
      ...(ca.length > 0 ? { ca: trusted(ca) } : {}),
    });
    let socket: Socket | undefined;
    ws.on('upgrade', (res) => {
      socket = res.socket;
    });
    ws.on('open', () => events.open(ws.protocol));
    ws.on('message', (data) => events.message(String(data)));
    ws.on('close', (code, reason) => events.close(code, reason.toString()));
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === undefined || !UNTRUSTED.has(err.code)) return events.error(err.message);
      const untrusted = new ProtoflyError(
        'PF_ERR_TLS',
        `${url}: the server's certificate is not trusted (${err.code}: ${err.message}); a runtime trusts another certificate authority through its policy's tls.ca`,
        { url, tls: err.code },
      );
      refused(untrusted);
      events.error(untrusted.message);
    });
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
