import type { ClusterMember, Frame, Taken } from '../../server/services/service.js';

/**
 * A member that records what its cluster tells it; `accept` says whether a session is here, and
 * `confirm` whether a frame is safe as soon as it is taken (else its `taken` waits in `unsafe`,
 * as for a client that has not yet said it took it).
 */
export class RecordingMember implements ClusterMember {
  readonly delivered: { session: string; frame: string; heldFirst?: string }[] = [];
  readonly unsafe: Taken[] = [];
  confirm = true;
  readonly heldFor: string[] = [];
  readonly policies: string[] = [];
  rejoins = 0;
  accept = true;

  deliver(session: string, frame: Frame, taken?: Taken, heldFirst?: string): boolean {
    if (!this.accept) return false;
    this.delivered.push({
      session,
      frame: Buffer.from(frame).toString(),
      ...(heldFirst ? { heldFirst } : {}),
    });
    if (taken && this.confirm) taken(true);
    else if (taken) this.unsafe.push(taken);
    return true;
  }

  held(address: string): void {
    this.heldFor.push(address);
  }

  rejoined(): void {
    this.rejoins++;
  }

  policy(rules: string): void {
    this.policies.push(rules);
  }
}
