import { describe, expect, it } from 'vitest';
import { runDemo } from '../cli/demo.js';
import { swapInterlude } from '../cli/demo-swap.js';
import { renderLadder } from '../cli/ladder.js';

describe('protofly demo --swap', () => {
  it('releases a new json-ws of b.example mid-demo; both runtimes swap to it live, lose nothing, and show it in the ladder', async () => {
    const report = await runDemo(swapInterlude);
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    // The demo's five, and the chats Alice sent during the swap.
    expect(report.messages).toEqual({ sent: 10, delivered: 10 });
    expect(report.swaps?.map((s) => [s.runtime, s.peer, s.from, s.to]).sort()).toEqual([
      ['alice', 'user://b.example/bob', '0.1.0', '0.2.0'],
      ['bob', 'inbox', '0.1.0', '0.2.0'],
      ['bob', 'user://a.example/alice', '0.1.0', '0.2.0'],
    ]);
    const ladder = renderLadder(report.ladder.columns, report.ladder.rows);
    expect(ladder).toMatch(/event: publish json-ws@0\.2\.0/);
    expect(ladder).toMatch(/alice: conversation with user:\/\/b\.example\/bob json-ws@0\.1\.0 → @0\.2\.0/);
    expect(ladder).toMatch(/json-ws@0\.1\.0 runs nothing: unloaded/);
    // The call after the swap goes through the new version.
    expect(ladder).toMatch(/offer \(SDP\) \[json-ws@0\.2\.0\]/);
  });
});
