import type { ErrorCode } from './errors.js';

/**
 * What each code means and what to do about it, for people: beside core/errors.ts's table, not
 * in it, so that what raises and reads codes (a page's runtime, every stub) does not carry this
 * text; the main entry (`protofly`) exports it.
 */
export const ERROR_DOCS: Readonly<Record<ErrorCode, string>> = {
  PF_ERR_ADDRESS:
    'An address is malformed. Addresses are user://<domain>/<name>, hyperty://<domain>/<id>, runtime://<domain>/<id>[/...] or domain://<host>[/...], with a lower-case DNS domain.',
  PF_ERR_SCHEMA:
    'A value does not match its JSON Schema in schemas/. The message gives the JSON pointer of the offending field.',
  PF_ERR_NO_ROUTE: 'No listener on the bus for the destination address, and nothing to answer to.',
  PF_ERR_QUEUE_FULL:
    'A bus route has more undelivered messages than its bound: the sender is faster than the receiver. Slow down or raise queueLimit.',
  PF_ERR_LISTENER:
    'A bus listener threw while handling a message. The sender is not affected; the listener should handle its own errors.',
  PF_ERR_CLOSED: 'The component was closed; it takes no more work.',
  PF_ERR_STATUS:
    'A stub reported a status transition its lifecycle does not allow (created → connecting → live ⇄ disconnected; failed; stopped).',
  PF_ERR_NOT_FOUND:
    'A catalogue has no such plugin, version or package; or a user directory has no such user.',
  PF_ERR_EXISTS: 'Something was to be created under a name that is taken (a user name in a directory).',
  PF_ERR_FETCH: 'A catalogue or package could not be fetched (network error, HTTP error or time-out).',
  PF_ERR_INTEGRITY: "A package's bytes do not match the integrity hash its descriptor names.",
  PF_ERR_SIGNATURE:
    "A descriptor's signature is missing or does not verify against the key it names, or the descriptor has no RFC 8785 canonical form to sign (a lone surrogate, a number beyond JSON's range): detail.pointer names the value.",
  PF_ERR_UNTRUSTED_KEY:
    'The key that signed a descriptor is not trusted for its domain (not pinned, or different from the key recorded on first use).',
  PF_ERR_DESCRIPTOR:
    'A catalogue served another descriptor than the one asked for: another kind or name, or a version outside the requested range. detail.field names the field, detail.asked and detail.served the values.',
  PF_ERR_ENGINE: "A plugin's engine range does not include this protofly version.",
  PF_ERR_TOO_LARGE:
    "A package, message or group is larger than the limit that applies to it (a group's subscribers; the groups one connection joined): a bound, not a rate, so the same request is refused again until the count goes down.",
  PF_ERR_DOWNGRADE: 'A catalogue offered an older version than one already seen for the same name and range.',
  PF_ERR_ENDPOINT: "A stub tried to connect to a URL outside its descriptor's endpoint allow-list.",
  PF_ERR_POLICY:
    "A descriptor asked for more than the runtime policy grants (schemas/runtime-policy.schema.json): an endpoint on another domain's host or on a loopback, private, link-local or special address, a limit over the host's ceiling, a package on another origin, a configuration schema outside the safe subset; or a stub connected to an address the policy refuses. The message names the policy key and the descriptor field.",
  PF_ERR_TLS:
    "A `wss://` server presented a certificate the runtime does not trust (no chain to a trusted certificate authority, another host's name, expired): the connection was refused, and the stub does not retry it. The message names the URL and the TLS error. A Node runtime trusts another certificate authority through its policy's `tls.ca` (schemas/runtime-policy.schema.json); stubs pass the code on as the far side's.",
  PF_ERR_SPOOF:
    'A message carried a `from` address its sender was not given (a stub, or a client of a messaging node), or a response came from another address than the one its request was sent to.',
  PF_ERR_SANDBOX:
    'A stub failed inside its sandbox: it threw, crashed its worker, or could not be evaluated.',
  PF_ERR_WATCHDOG: 'A stub stopped answering its heartbeat (a busy loop) and was terminated.',
  PF_ERR_MEMORY: "A stub's sandbox went over its memory limit and was terminated.",
  PF_ERR_FLOOD:
    "A sender went over its message rate or buffer bound (or a rate of the domain's policy rules, or the request rate per user or address at a token endpoint: HTTP 429); the excess was refused, not queued without bound.",
  PF_ERR_BUSY:
    "A server is at a capacity bound that is not the caller's doing (every place on a catalogue's update stream is taken): try again later, or poll.",
  PF_ERR_UNTRUSTED_DOMAIN:
    'Code from a domain that is not trusted for the requested isolation (e.g. the inline host) was refused.',
  PF_ERR_AUTH:
    "An identity token is missing, malformed, expired or does not verify against its issuer domain's keys; or a log-in at a token endpoint was refused (wrong user or password, refresh token unknown, used or expired: HTTP 400 invalid_grant).",
  PF_ERR_LOCKED:
    'Too many failed log-ins for this user or from this address: the token endpoint refuses every log-in for them until the lock-out ends (HTTP 429 with Retry-After; detail.retryAfterSeconds).',
  PF_ERR_FORBIDDEN:
    "The peer is authenticated but not allowed to do this (e.g. its domain is not admitted). A message the domain's policy rules refuse (a `deny` rule, or no rule and `default: deny`) is answered with it by the messaging node, without closing (an `err` frame: the app's request gets response code 403 and the code and rule in its description); a guest service closes the connection asking for guest credentials with 4403 instead of issuing them.",
  PF_ERR_RULES:
    "A domain's policy rules fit their schema but cannot be used: a rule names a group that is not defined, two rules share a name (or one is named `default`), a deny rule has a rate, a time zone is not known. The message gives the JSON pointer; the rules in force are unchanged.",
  PF_ERR_ORIGIN:
    "A web page's origin (its Origin header) is not among those the domain lets use this service from a browser (domain config `browsers`): the token endpoint refuses it with 403 before reading the request, the messaging node at the WebSocket upgrade. In a page this shows as a failed fetch or WebSocket (browsers hide the refusal); the server's log names the origin. Add the page's origin to the domain's config.",
  PF_ERR_FRAME: 'A wire frame is malformed (not JSON, wrong shape, nested too deep) or too large.',
  PF_ERR_INTERNAL:
    "Handling a connection's frame failed unexpectedly; that connection was closed (1011), every other one is served on. Reconnect; report it if it repeats.",
  PF_ERR_TIMEOUT:
    "A peer did not do in time what it had to: a new connection to a messaging node did not authenticate within authTimeoutMs; or a stub did not become reachable at its domain (`live`) within the runtime's liveTimeoutMs, so register() or conversation() gave it up. Nothing was refused for good: try again.",
  PF_ERR_METHOD:
    'An HTTP endpoint was asked with a method it does not take; the Allow header names those it does.',
  PF_ERR_SIP_PARSE:
    'A SIP message, header value or URI does not follow the RFC 3261 grammar (or a rule RFC 3261 states for it). The message names the part; detail.status is the response a UAS sends (400, or 505 for another SIP version).',
  PF_ERR_DELIVERY:
    'A message was refused by the far side or its server (4xx/5xx), or not acknowledged in time (408). detail.code has the response code, detail.description its description.',
  PF_ERR_CONVERSATION:
    'A conversation could not be opened, or was used after it ended. With detail.unknown, a message it sent has no answer and will have none (the conversation ended, or its stub gave up waiting on the wire): it may or may not have arrived.',
  PF_ERR_SWAP:
    'A live swap of a conversation to a new stub version failed: the old version gave no valid snapshot, or the new one threw, failed or did not go live in time. The conversation was rolled back to the version it ran; detail names both.',
  PF_ERR_STORAGE:
    'A data directory or store cannot be written or read: the disk is full (ENOSPC, EDQUOT), read-only (EROFS) or not ours (EACCES, EPERM), or a file is unreadable for any reason but being absent (a directory where a file belongs: EISDIR; a failing disk: EIO): only ENOENT means absent, so nothing unreadable is overwritten. detail names the path and the system code; free space or fix the permissions. A cache that cannot be written is only logged.',
  PF_ERR_UNAVAILABLE:
    "A service the messaging node needs on a message's way (the location, cluster or hold store: Redis) failed or is failing over, or a message held in Redis reached fewer replicas than cluster-redis holdReplicas asks within holdReplicaTimeoutMs (WAIT). The message was not acknowledged, and what its sender sent after it to the same recipient is refused with this code too until it comes again: send them again, in order, after a pause (json-ws does). The message names the step that failed.",
  PF_ERR_DIRECTORY:
    'The directory an address book is synchronised from (LDAP) could not be read: unreachable, its bind refused, a search failed, or more entries than the bound. The node keeps answering from its last good copy; its status and metrics say the copy is stale.',
  PF_ERR_FOREIGN_KEY:
    "A catalogue directory holds what another key signed (another domain's, or another key of this domain): it is not published into with this one.",
  PF_ERR_CONFIG: 'A configuration value is missing or wrong. The message names the setting.',
  PF_ERR_USAGE: 'A command was called with wrong arguments. See `protofly --help`.',
  PF_ERR_DEMO:
    'A demo (`protofly demo`, `demo-sip`, `demo-swap`) failed on an error that carries no code of its own; the message is its text, the report has the rest.',
  PF_ERR_NETNS:
    'Network namespaces cannot be made on this machine (`protofly demo --cluster`, the tests over network hosts): they need Linux, iproute2 (`ip`) and root (CAP_NET_ADMIN, CAP_SYS_ADMIN). The message gives what `ip` said; nothing made is left behind.',
  PF_ERR_BROWSER:
    '`protofly demo --web --headless` has no browser to drive: Chromium is not at the path given (`--chromium`, default /usr/bin/chromium) or playwright-core is not installed. The message names which and what to install.',
};
