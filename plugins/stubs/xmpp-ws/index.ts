import { type Activate, shared } from 'protofly/stub';
import { snapshotOf } from './snapshot.js';
import { Stream } from './stream.js';

/**
 * A protofly stub for XMPP over WebSocket (RFC 7395), to a server such as Prosody. One socket
 * per user (the session's instances share it): `<open/>`, SASL SCRAM, `<open/>` again, resource
 * binding, initial presence; then live. A chat the app sends is a `<message type="chat">`
 * asking for a receipt (XEP-0184): the receipt is the 200 the app awaits, a message error its
 * error. A chat that comes is handed to the runtime, and the runtime's answer goes back as a
 * receipt (or an error). What is not answered waits, and goes again after a reconnect with its
 * id: the receiving stub de-duplicates by sender and id, and gives its receipt again. With
 * XEP-0198 the server's acknowledgements say what goes again (a resumed stream, or a new one),
 * so that a far side that keeps copies gets none. Calls are Jingle sessions (calls.ts).
 * A user of another domain logs in as the guest account the domain's guest service gives it
 * (`guestUrl`, core/stub-kit/guest-credentials.ts), asked again on each connection.
 * The stream and its parts: stream.ts.
 */
const activate: Activate = (ctx) => {
  const stream = shared(ctx, 'xmpp-ws/stream', () => new Stream(ctx));
  const member = stream.join(ctx);
  return {
    postMessage: (msg) => stream.post(member, msg),
    stop: () => stream.leave(member),
    snapshot: () => snapshotOf(member),
  };
};

export default activate;
