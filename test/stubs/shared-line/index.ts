import type { Message } from '../../../core/message.js';
import type { Activate, StubContext, StubSocket } from '../../../core/stub.js';

/**
 * Conversations of one session share a line: one socket to an echo server, opened and timed
 * through the first conversation's `ctx` (as a json-ws connection is). A conversation's
 * `execute say` is queued, flushed onto the socket by a timer, and routed back from the echo
 * to that conversation as an update. `execute tick` starts a timer of the conversation's own;
 * `execute speakAs` sends from another address; `execute throw` throws.
 */

interface Line {
  /** Whose ctx opened the socket and runs the flush timer. */
  readonly owner: StubContext;
  readonly socket: StubSocket;
  readonly members: Map<string, StubContext>;
  readonly queue: string[];
  open: boolean;
  armed: boolean;
}

let members = 0;

function flush(line: Line): void {
  line.armed = false;
  if (!line.open) return arm(line);
  for (let frame = line.queue.shift(); frame !== undefined; frame = line.queue.shift())
    line.socket.send(frame);
}

function arm(line: Line): void {
  if (line.armed) return;
  line.armed = true;
  line.owner.setTimeout(() => flush(line), 1);
}

/** An echoed frame: `member app peer text`, back to that member's app as an update. */
function route(line: Line, data: string): void {
  const [member, app, peer, ...text] = data.split(' ');
  line.members.get(String(member))?.send({
    id: `echo-${data.length}-${Math.random()}`,
    type: 'update',
    from: String(peer),
    to: String(app),
    body: { value: text.join(' ') },
  });
}

function lineOf(ctx: StubContext): Line {
  const known = ctx.session.get('line') as Line | undefined;
  if (known) return known;
  const line: Line = {
    owner: ctx,
    members: new Map(),
    queue: [],
    open: false,
    armed: false,
    socket: ctx.connect(String(ctx.config.url), [], {
      onOpen: () => {
        line.open = true;
      },
      onMessage: (data) => route(line, data),
    }),
  };
  ctx.session.set('line', line);
  return line;
}

function answer(ctx: StubContext, msg: Message, value: unknown): void {
  ctx.send({ id: msg.id, type: 'response', from: msg.to, to: msg.from, body: { code: 200, value } });
}

const activate: Activate = (ctx) => {
  const line = lineOf(ctx);
  members += 1;
  const me = `m${members}`;
  line.members.set(me, ctx);
  ctx.status('live');
  return {
    postMessage(msg) {
      if (msg.type !== 'execute') return;
      const { method, params } = msg.body;
      if (method === 'throw') throw new Error(`boom in ${me}`);
      if (method === 'speakAs') {
        // Routes an update from another address through this conversation, as a shared
        // connection that guesses wrong would.
        const from = String((params as { from?: unknown } | undefined)?.from);
        try {
          ctx.send({ id: `as-${me}`, type: 'update', from, to: msg.from, body: { value: 'spoken' } });
          return answer(ctx, msg, 'taken');
        } catch (err) {
          return answer(ctx, msg, (err as { code?: string }).code);
        }
      }
      if (method === 'tick') {
        const tick = {
          id: `tick-${me}`,
          type: 'update',
          from: msg.to,
          to: msg.from,
          body: { value: 'tick' },
        };
        ctx.setInterval(() => ctx.send({ ...tick } as Message), 5);
        return answer(ctx, msg, 'ticking');
      }
      line.queue.push(
        `${me} ${msg.from} ${msg.to} ${String((params as { text?: unknown } | undefined)?.text)}`,
      );
      arm(line);
      answer(ctx, msg, 'queued');
    },
    stop() {
      line.members.delete(me);
    },
  };
};

export default activate;
