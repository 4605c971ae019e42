import { asProtoflyError } from '../core/errors.js';
import { developmentPolicy, type RuntimePolicy } from '../runtime/policy.js';
import type { SandboxHost } from '../sandbox/host.js';
import { createNodeHost, type NodeHostKind } from '../sandbox/isolate/choose.js';
import type { Row } from './ladder.js';

/** What the demo did, for people (ladder) and scripts (--json). */
export interface DemoReport {
  ok: boolean;
  error?: { code: string; message: string };
  /**
   * What runs the stubs: worker threads in the demo's process, or the pages' Web Workers (`--web`).
   */
  host?: { kind: NodeHostKind | 'browser' };
  stubs: {
    domain: string;
    name: string;
    version: string;
    integrity: string;
    verified: boolean;
    signedBy: string;
    for: string;
  }[];
  messages: { sent: number; delivered: number };
  /** Milliseconds per phase. */
  timings: Record<string, number>;
  ladder: { columns: string[]; rows: Row[] };
  /** `--swap`: which runtime moved what to which version, and how long its messages were held. */
  swaps?: { runtime: string; peer: string; from: string; to: string; heldMs: number }[];
  /** `--web`: whether the pages' WebRTC call connected, and its data channel's median round trip. */
  webrtc?: { connected: boolean; rttMs: number };
  /** `--web --sip`: what Alice's page did with Dave, a SIP user on Kamailio. */
  sip?: SipReport;
  /** `--cluster`: the domain's hosts, the users the balancer put on each, and the one killed. */
  hosts?: { name: string; namespace: string; address: string; users: string[]; killed: boolean }[];
  /** `--cluster`: chats acknowledged to their sender that never reached their recipient. */
  lost?: number;
}

/** What a page did with a SIP user through that user's domain's sip-ws stub (`--web --sip`). */
export interface SipReport {
  readonly peer: string;
  /** The carrier, the SIP domain's stub: `name@version`. */
  readonly stub: string;
  /** Bodies the page sent to the SIP user (chat, offer, bye) and got from them (chat, answer, ...). */
  readonly messages: { sent: number; received: number };
  /** The page's call: answered by the SIP user (the SDP answer arrived), then ended with its bye. */
  readonly call: { answered: boolean; ended: boolean };
}

/** The ladder's parties in the demo and in the web demo's pages. */
export const COLUMNS = ['alice@a.example', 'b.example catalogue', 'b.example node', 'bob@b.example'];
/** Each party's column in {@link COLUMNS}. */
export const COLUMN = { alice: 0, catalogue: 1, node: 2, bob: 3 } as const;

/** A report with nothing done yet, for a ladder with these columns. */
export function emptyReport(columns: string[]): DemoReport {
  return {
    ok: false,
    stubs: [],
    messages: { sent: 0, delivered: 0 },
    timings: {},
    ladder: { columns, rows: [] },
  };
}

/** What went wrong, for the report: a coded error as it is, anything else as `PF_ERR_DEMO`. */
export function failureOf(err: unknown): NonNullable<DemoReport['error']> {
  const { code, message } = asProtoflyError(err, 'PF_ERR_DEMO');
  return { code, message };
}

/** Records, under `name`, the milliseconds since the previous phase ended (or since the timer started). */
export function phaseTimer(report: DemoReport): (name: string) => void {
  let clock = performance.now();
  return (name) => {
    const now = performance.now();
    report.timings[name] = Math.round((now - clock) * 100) / 100;
    clock = now;
  };
}

/**
 * The sandbox host the demo's runtimes share: of `kind` (default worker threads, the default of
 * `createNodeRuntime`), under `policy`; the report says which ran.
 */
export async function demoHost(
  report: DemoReport,
  policy: RuntimePolicy = developmentPolicy,
  asked: NodeHostKind = 'worker',
): Promise<SandboxHost> {
  const { host, kind } = createNodeHost(asked, { policy });
  report.host = { kind };
  await host.ready();
  return host;
}
