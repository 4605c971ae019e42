import type { ClusterMember, Frame } from '../../server/services/service.js';

/** A member that records what its cluster tells it; `accept` says whether a session is here. */
export class RecordingMember implements ClusterMember {
  readonly delivered: { session: string; frame: string }[] = [];
  readonly heldFor: string[] = [];
  readonly policies: string[] = [];
  rejoins = 0;
  accept = true;

  deliver(session: string, frame: Frame): boolean {
    if (this.accept) this.delivered.push({ session, frame: Buffer.from(frame).toString() });
    return this.accept;
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
