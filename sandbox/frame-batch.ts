/**
 * The frames of one turn in two messages at most, both ways between a host and its sandbox (a
 * worker thread or a child process: node/spawn.ts, node/parent.ts; a Web Worker: browser/). A
 * message costs a wake-up of the other side (a process: a write too) and its own serialisation
 * whatever it holds, and a turn often has several frames. Measured in bench/README.md (64
 * round trips in flight, end to end: through the worker host 0.69× the hub's throughput a frame
 * a message, 0.83× batched; through a process sandbox 0.39×, 0.66×).
 */

/**
 * `send`, for every frame posted: the first of a turn at once (a lone frame waits for nothing,
 * and the other side starts on it while this one goes on), the turn's others together once the
 * code that posted them is done (a microtask), as an array, in order.
 */
export function batched<T>(send: (sent: T | T[]) => void): (frame: T) => void {
  let rest: T[] | undefined;
  const flush = () => {
    const frames = rest as T[];
    rest = undefined;
    if (frames.length > 0) send(frames.length === 1 ? (frames[0] as T) : frames);
  };
  return (frame) => {
    if (rest) {
      rest.push(frame);
      return;
    }
    send(frame);
    rest = [];
    queueMicrotask(flush);
  };
}

/** The receiving side of {@link batched}: `receive` for each frame of a message. */
export function each<T>(receive: (frame: T) => void): (sent: unknown) => void {
  return (sent) => {
    if (!Array.isArray(sent)) return receive(sent as T);
    for (const frame of sent as T[]) receive(frame);
  };
}
