import type { Conversation } from '../runtime/conversation.js';
import type { Runtime, RuntimeOptions } from '../runtime/runtime.js';
import type { RunningDomain } from '../server/domain.js';
import type { DemoReport } from './demo-report.js';
import type { Row } from './ladder.js';

/** What a step between the chat and the call runs on (`--swap`: demo-swap.ts). */
export interface DemoStage {
  readonly alice: Runtime;
  readonly bob: Runtime;
  /** Alice's conversation with Bob. */
  readonly withBob: Conversation;
  readonly rows: Row[];
  readonly report: DemoReport;
  /** The ladder's columns. */
  readonly column: {
    readonly alice: number;
    readonly catalogue: number;
    readonly node: number;
    readonly bob: number;
  };
  domain(name: string): RunningDomain;
}

/** A step the demo runs between the chat and the call, with the update policies its runtimes need. */
export interface DemoInterlude {
  /** Names its phase in the timings. */
  readonly phase: string;
  readonly updates?: RuntimeOptions['updates'];
  run(stage: DemoStage): Promise<void>;
}
