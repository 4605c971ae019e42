import { fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HostFrame, WorkerFrame } from '../channel.js';
import type { Ending } from '../ended.js';
import { batched, each } from '../frame-batch.js';

/**
 * How the worker host keeps a sandbox apart from the runtime:
 *
 * - `thread`: a worker thread, in the runtime's process (the default): the cheapest crossing,
 *   but what V8 treats as fatal (`'x'.repeat(2 ** 28).split('')`, "invalid size error"; on
 *   Node 20, one allocation past the heap limit) ends the whole process;
 * - `process`: a child process of its own, talking over Node's IPC channel: V8's fatal errors,
 *   its heap limit among them, end that process only, and its stubs fail with a coded error.
 */
export type Isolation = 'thread' | 'process';

/** A sandbox's thread or process, as the worker host drives it. */
export interface Sandboxed {
  post(frame: HostFrame): void;
  /** Its used heap in bytes, where the host can read it from its own thread (threads, Node ≥ 22.16). */
  readonly readHeap: (() => Promise<number>) | undefined;
  /** Forces full garbage collections in it, where the host can (threads; a process collects itself when asked). */
  readonly collect: (() => Promise<void>) | undefined;
  /** Whether it keeps the host's process alive (the worker host: while it starts or takes a package). */
  keepAlive(on: boolean): void;
  /** Ends it, and resolves once it is gone. */
  terminate(): Promise<void>;
}

export interface SpawnOptions {
  readonly isolation: Isolation;
  /** The sandbox script, dist/sandbox-worker.js. */
  readonly script: URL;
  readonly name: string;
  /** The package's memory limit, MiB (for the ending's words). */
  readonly memoryMb: number;
  /** V8's limit on its old generation, MiB. */
  readonly heapMb: number;
  /** V8's young generation, MiB. */
  readonly youngMb: number;
  readonly arrayBufferBytes: number;
  readonly onFrame: (frame: WorkerFrame) => void;
  /** How it ended on its own (crashed, out of memory, exited); may be called more than once. */
  readonly onEnd: (ending: Ending) => void;
}

/** `Worker#getHeapStatistics` (Node ≥ 22.16): the host can read a worker's heap from its own thread. */
type HeapReader = (this: Worker) => Promise<{ used_heap_size: number }>;
const readWorkerHeap = (Worker.prototype as unknown as { getHeapStatistics?: HeapReader }).getHeapStatistics;

/** Whether the host can read a worker thread's heap itself (see worker-host.ts, heapSampled). */
export const threadHeapReadable = typeof readWorkerHeap === 'function';

/** Starts a sandbox of `options.isolation`. Nothing of the host's environment, arguments or flags reaches it. */
export function spawnSandbox(options: SpawnOptions): Sandboxed {
  return options.isolation === 'process' ? spawnProcess(options) : spawnThread(options);
}

function spawnThread(o: SpawnOptions): Sandboxed {
  const worker = new Worker(o.script, {
    name: o.name,
    env: {},
    argv: [],
    execArgv: [],
    stdin: false,
    resourceLimits: { maxOldGenerationSizeMb: o.heapMb, maxYoungGenerationSizeMb: o.youngMb },
    // Array buffers live outside the heap: the sandbox bounds them where they are made.
    workerData: { arrayBufferBytes: o.arrayBufferBytes },
  });
  worker.unref();
  worker.on('message', each(o.onFrame));
  worker.on('error', (err: Error & { code?: string }) =>
    o.onEnd(
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? { code: 'PF_ERR_MEMORY', memoryMb: o.memoryMb }
        : { code: 'PF_ERR_SANDBOX', what: `crashed: ${err.message}` },
    ),
  );
  worker.on('exit', (code) => o.onEnd({ code: 'PF_ERR_SANDBOX', what: `exited with code ${code}` }));
  const read = readWorkerHeap;
  return {
    post: batched((sent) => worker.postMessage(sent)),
    readHeap: read && (async () => (await Reflect.apply(read, worker, [])).used_heap_size),
    async collect() {
      // V8 collects before it snapshots; two, since some caches let go only as collections age them.
      for (let i = 0; i < 2; i++) {
        for await (const _ of await worker.getHeapSnapshot()) {
          // Drained only: the collection before it is what was wanted.
        }
      }
    },
    keepAlive: (on) => (on ? worker.ref() : worker.unref()),
    terminate: async () => {
      await worker.terminate();
    },
  };
}

const ignore = () => {};

/** What a process's standard error ends with when V8 ended it for its heap limit. */
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit/i;
/**
 * What says why on standard error, most telling first: Node's fatal error ("FATAL ERROR:
 * Reached heap limit ..."), V8's ("# Fatal JavaScript invalid size error 268435456", under a
 * "# Fatal error in , line 0" that says nothing), an uncaught error.
 */
const WHY = [/FATAL ERROR: .*$/m, /Fatal JavaScript .*$/m, /^\w*Error: .*$/m];

function spawnProcess(o: SpawnOptions): Sandboxed {
  const child = fork(fileURLToPath(o.script), [String(o.arrayBufferBytes)], {
    execArgv: [
      `--max-old-space-size=${o.heapMb}`,
      `--max-semi-space-size=${Math.max(1, Math.floor(o.youngMb / 3))}`,
      // For the host's measure (the `collect` ping): parent.ts takes `gc` before any stub runs.
      '--expose-gc',
    ],
    env: {},
    // Standard error is kept to say why V8 ended it; nothing else of it is read.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let stderr = '';
  const err = child.stderr;
  err?.setEncoding('utf8');
  err?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  child.on('message', each(o.onFrame));
  child.on('error', (e) => o.onEnd({ code: 'PF_ERR_SANDBOX', what: `could not run: ${e.message}` }));
  const closed = new Promise<void>((resolve) =>
    // After its standard error is read to the end, unlike `exit`.
    child.on('close', (code, signal) => {
      resolve();
      if (OUT_OF_MEMORY.test(stderr)) return o.onEnd({ code: 'PF_ERR_MEMORY', memoryMb: o.memoryMb });
      const fatal = WHY.map((why) => why.exec(stderr)?.[0])
        .find((line) => line !== undefined)
        ?.trim()
        .slice(0, 200);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      o.onEnd({ code: 'PF_ERR_SANDBOX', what: fatal ? `${how}: ${fatal}` : how });
    }),
  );
  // Its standard error is read as long as it runs, and keeps nothing alive.
  (err as Socket | null)?.unref();
  return {
    post: batched((sent) => {
      // A frame for a process already gone is dropped: its end fails whatever waits on it.
      if (child.connected) child.send(sent, ignore);
    }),
    readHeap: undefined,
    collect: undefined,
    keepAlive: (on) => {
      if (on) {
        child.ref();
        child.channel?.ref();
      } else {
        child.unref();
        child.channel?.unref();
      }
    },
    terminate: async () => {
      // Held until it is gone: whoever awaits this waits for its end.
      child.ref();
      child.kill('SIGKILL');
      await closed;
    },
  };
}
