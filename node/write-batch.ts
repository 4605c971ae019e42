import type { Socket } from 'node:net';

/**
 * Bytes a socket may hold corked before they go out anyway: a burst to one peer still leaves in
 * few writes, and what waits on a socket stays a measure of its reader (the node drops a slow
 * consumer by it), not of this turn.
 */
const MAX_CORKED_BYTES = 16 * 1024;

const corked = new Set<Socket>();
let flushing = false;

function uncorkAll(): void {
  flushing = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/**
 * Holds `socket`'s writes until this event-loop turn's I/O callbacks have run, so that every
 * WebSocket frame written to it in the turn leaves in one `writev` instead of one each (what
 * uWebSockets calls corking). Call it before a write; it costs a Set lookup after the first.
 *
 * A write on loopback or a LAN costs a syscall and the kernel's TCP work, which is most of a
 * relayed message's cost: with many messages in flight, a read of one socket brings several
 * frames, and their deliveries to one recipient now share a write. A lone message waits only
 * for the rest of its turn (`setImmediate` runs right after the poll phase).
 */
export function batchWrites(socket: Socket): void {
  if (corked.has(socket)) {
    if (socket.writableLength < MAX_CORKED_BYTES) return;
    socket.uncork();
  }
  socket.cork();
  corked.add(socket);
  if (!flushing) {
    flushing = true;
    setImmediate(uncorkAll);
  }
}
