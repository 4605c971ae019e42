import type { Socket } from 'node:net';

/**
 * Bytes a socket may hold corked before they go out anyway: a burst to one peer still leaves in
 * few writes, and what waits on a socket stays a measure of its reader (the node drops a slow
 * consumer by it), not of this turn.
 */
const MAX_CORKED_BYTES = 16 * 1024;

/** Sockets written to in this event-loop turn, and those of them corked. */
const written = new Set<Socket>();
const corked = new Set<Socket>();

function endTurn(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
  written.clear();
}

/**
 * Batches a socket's writes within one event-loop turn: the first write of the turn goes out
 * at once, and any after it are held (corked) until the turn's I/O callbacks have run, then
 * leave together in one `writev` (uWebSockets' corking, minus the wait for a lone frame). Call
 * it before a write.
 *
 * A write on loopback or a LAN costs a syscall and the kernel's TCP work, which is most of a
 * relayed message's cost: with many messages in flight, a read of one socket brings several
 * frames, and their deliveries to one recipient now share a write. A lone message, or one
 * fanned out to many sockets once each, waits for nothing.
 */
export function batchWrites(socket: Socket): void {
  if (!written.has(socket)) {
    if (written.size === 0) setImmediate(endTurn);
    written.add(socket);
    return;
  }
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
  } else if (socket.writableLength >= MAX_CORKED_BYTES) {
    socket.uncork();
    socket.cork();
  }
}
