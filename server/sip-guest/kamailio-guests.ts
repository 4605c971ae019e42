import { ProtoflyError } from '../../core/errors.js';

/** Where a SIP server learns guest passwords. */
export interface GuestStore {
  /** Makes `password` good for `username` for `expires` seconds (replacing any other). */
  set(username: string, password: string, expires: number): Promise<void>;
}

/** The htable the Kamailio config authenticates guests against (test/kamailio/kamailio.cfg). */
const HTABLE = 'guests';

/**
 * Guest passwords in Kamailio's `guests` htable, set over its JSON-RPC interface (jsonrpcs
 * over xhttp, on a loopback port of its own) with `htable.setxs`: the value and its expiry in
 * one call, so a password outlives nothing it was issued for. The config checks a user part
 * with `~` against this table only, and every other one against its subscriber table.
 */
export function kamailioGuests(rpcUrl: string, timeoutMs = 5000): GuestStore {
  return {
    async set(username, password, expires) {
      let reply: { error?: { message?: string } };
      try {
        const res = await fetch(rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'htable.setxs',
            params: [HTABLE, username, password, expires],
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        reply = (await res.json()) as typeof reply;
      } catch (err) {
        throw new ProtoflyError(
          'PF_ERR_FETCH',
          `Kamailio RPC ${rpcUrl} did not take guest ${username}: ${(err as Error).message}`,
          {
            url: rpcUrl,
          },
        );
      }
      if (reply.error) {
        throw new ProtoflyError(
          'PF_ERR_FETCH',
          `Kamailio RPC ${rpcUrl} refused guest ${username}: ${reply.error.message}`,
          {
            url: rpcUrl,
          },
        );
      }
    },
  };
}
