import type { ConversationBody } from '../../../../core/generated/types.js';
import type { NameAddr } from '../message/index.js';
import type { TimerQueue } from '../timers/timer-queue.js';
import type { ResponseHandler, UserAgentCore } from '../user-agent-core/user-agent-core.js';

/** A request the app sent through a conversation, waiting for its answer. */
export interface AppRequest {
  readonly id: string;
  /** The peer it is for (its `to`). */
  readonly peer: string;
  /** Answers it: a response from the peer to the app. */
  respond(code: number, description?: string): void;
  /**
   * Answers that it went on the wire and no answer will come (the SIP response that says so is
   * the core's own: {@link ResponseHandler}): the far side may have it (core/stub.ts `UNKNOWN`).
   */
  unknown(code: number, description: string): void;
}

/** The runtime's answer to something delivered: its response code and description. */
export type Answered = (code: number, description?: string) => void;

/** What the sessions (chat, calls) need from the user agent that holds them. */
export interface SessionHost {
  readonly core: UserAgentCore;
  readonly timers: TimerQueue;
  /** Our AOR as From, without a tag. */
  readonly local: NameAddr;
  /** Our Contact (RFC 7118 §5.2, `;transport=ws;ob`). */
  readonly contact: NameAddr;
  /**
   * Hands a canonical body from `from` to the runtime (chat and offers as `create`, the rest
   * as `update`), through the conversation with `from`, else the inbox. False when no
   * conversation takes it; otherwise `answered` gets the runtime's response.
   */
  deliver(from: string, body: ConversationBody, answered?: Answered): boolean;
}
