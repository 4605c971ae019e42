import semver from 'semver';
import { ProtoflyError } from '../core/errors.js';
import type { Carrier } from '../runtime/conversation.js';
import type { Runtime, UpdateEvent, VersionEvent } from '../runtime/runtime.js';
import { BUILTIN_STUBS } from '../server/domain.js';
import { releaseStub } from '../server/release.js';
import type { DemoInterlude, DemoStage } from './demo-stage.js';
import type { Row } from './ladder.js';

/**
 * `protofly demo --swap`: between the chat and the call, b.example releases a new version of
 * its json-ws stub. Its catalogue announces it; Alice's and Bob's runtimes, which follow
 * b.example `live`, verify it and move their running conversation (and Bob's inbox) to it
 * while Alice keeps chatting; the old version is unloaded. The call then runs on the new one.
 */

/** Chats Alice sends while the swap happens: held during it, released in order after. */
const CHATS_DURING = 5;
/** A containment deadline for the swaps, not a measurement. */
const SWAPS_WITHIN_MS = 10_000;

/** What one runtime did, in order, for the ladder. */
type LadderStep = { at: number; who: number; name: string } & (
  | { kind: 'update'; event: UpdateEvent }
  | { kind: 'version'; event: VersionEvent }
  | { kind: 'unload'; carrier: Carrier }
);

export const swapInterlude: DemoInterlude = {
  phase: 'b.example releases a version: notice, verify, live swap, unload',
  updates: { 'b.example': 'live' },
  async run(stage: DemoStage): Promise<void> {
    const { alice, bob, withBob, rows, report, column } = stage;
    const from = withBob.carrier;
    const next = semver.inc(from.version, 'minor')!;
    const seen: LadderStep[] = [];
    const follow = (rt: Runtime, who: number, name: string) => [
      rt.on('update', (event) => seen.push({ at: performance.now(), who, name, kind: 'update', event })),
      rt.on('version', (event) => {
        if (event.change !== 'start') seen.push({ at: performance.now(), who, name, kind: 'version', event });
      }),
      rt.on('unload', (carrier) => seen.push({ at: performance.now(), who, name, kind: 'unload', carrier })),
    ];
    const offs = [...follow(alice, column.alice, 'alice'), ...follow(bob, column.bob, 'bob')];
    // Alice's conversation, Bob's conversation and Bob's inbox move; each old version is unloaded.
    const done = () =>
      seen.filter((s) => s.kind === 'version').length >= 3 &&
      seen.filter((s) => s.kind === 'unload').length >= 2;
    try {
      rows.push({ note: `b.example releases json-ws@${next}: signed, into its catalogue` });
      await releaseStub(stage.domain('b.example'), { pluginDir: BUILTIN_STUBS[0]!, version: next });
      const chats: Promise<unknown>[] = [];
      const deadline = performance.now() + SWAPS_WITHIN_MS;
      while (!done() || chats.length === 0) {
        const failed = seen.find((s) => s.kind === 'version' && s.event.change === 'rollback');
        if (failed?.kind === 'version') throw failed.event.error!;
        if (performance.now() > deadline) {
          throw new ProtoflyError(
            'PF_ERR_SWAP',
            `json-ws@${next} did not replace json-ws@${from.version} within ${SWAPS_WITHIN_MS} ms`,
          );
        }
        // Sent as Alice's runtime takes the new version: its swap holds them, then releases them in order.
        if (chats.length === 0 && seen.some((s) => s.kind === 'update' && s.name === 'alice')) {
          for (let i = 1; i <= CHATS_DURING; i++) chats.push(withBob.send(`chat ${i} during the swap`));
          report.messages.sent += CHATS_DURING;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await Promise.all(chats);
      report.messages.delivered += chats.length;
      rows.push(...seen.sort((a, b) => a.at - b.at).flatMap((s) => ladderRows(s, column)));
      const held = seen.find((s) => s.kind === 'version' && s.name === 'alice');
      rows.push({
        from: column.alice,
        to: column.node,
        label: `${chats.length} chats, ${held?.kind === 'version' ? (held.event.held ?? 0) : 0} held, in order [json-ws@${next}]`,
      });
      report.swaps = seen.flatMap((s) =>
        s.kind === 'version'
          ? [
              {
                runtime: s.name,
                peer: s.event.peer ?? 'inbox',
                from: from.version,
                to: next,
                heldMs: round(s.event.heldMs),
              },
            ]
          : [],
      );
    } finally {
      for (const off of offs) off();
    }
  },
};

function ladderRows(s: LadderStep, column: DemoStage['column']): Row[] {
  if (s.kind === 'update') {
    const v = s.event.carrier?.version;
    return [
      { from: column.catalogue, to: s.who, label: `event: publish json-ws@${v}` },
      { from: s.who, to: column.catalogue, label: 'GET stub/default' },
      { from: column.catalogue, to: s.who, label: `json-ws@${v} (signed)` },
      { note: `${s.name}: json-ws@${v} verified; policy ${s.event.policy}` },
    ];
  }
  if (s.kind === 'unload')
    return [{ note: `${s.name}: json-ws@${s.carrier.version} runs nothing: unloaded` }];
  const e = s.event;
  const what = e.peer === undefined ? 'inbox' : `conversation with ${e.peer}`;
  return [
    {
      from: s.who,
      to: column.node,
      label: `connect json-ws@${e.carrier.version}${e.peer ? ' (snapshot)' : ''}`,
    },
    {
      note: `${s.name}: ${what} json-ws@${e.previous?.version} → @${e.carrier.version}, ${e.held ?? 0} held for ${round(e.heldMs)} ms`,
    },
  ];
}

const round = (ms: number | undefined) => Math.round((ms ?? 0) * 10) / 10;
