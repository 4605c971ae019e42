import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { eventually } from './support/conversation.js';
import { type Domains, startDomains } from './support/domains.js';

const BIN = join(import.meta.dirname, '../bin/protofly.js');

let domains: Domains | undefined;
afterEach(async () => {
  await domains?.close();
  domains = undefined;
});

describe('protofly chat', { timeout: 120_000 }, () => {
  it('opens a conversation from the terminal: each line typed is sent, what arrives is printed', async () => {
    domains = await startDomains(['a.example', 'b.example']);
    const d = domains;
    const bob = d.runtime('user://b.example/bob');
    await bob.runtime.register();
    let withAlice: Conversation | undefined;
    bob.runtime.on('conversation', (c) => {
      withAlice = c;
    });

    const a = d.byName.get('a.example')!;
    const peers = Object.entries(d.catalogues).flatMap(([domain, url]) => ['--peer', `${domain}=${url}`]);
    const child = spawn(
      process.execPath,
      [
        BIN,
        'chat',
        '--as',
        'user://a.example/alice',
        'user://b.example/bob',
        '--key',
        join(a.dataDir, 'keys/a.example.key'),
        ...peers,
        '--policy',
        'development',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PROTOFLY_HOME: join(a.dataDir, 'home') } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await eventually(
        () => out.includes('chatting with user://b.example/bob over json-ws@'),
        'the chat open',
        60_000,
      );
      child.stdin.write('hello bob\n');
      await eventually(() => withAlice !== undefined, "Alice's conversation at Bob", 60_000);
      const atBob: string[] = [];
      withAlice!.on('message', (m: Incoming) => atBob.push((m.body as { text: string }).text));
      await eventually(() => atBob.includes('hello bob'), 'the line at Bob');
      await withAlice!.send('hi alice');
      await eventually(() => out.includes('user://b.example/bob: hi alice'), 'the reply printed');
    } finally {
      child.stdin.end();
    }
    expect(await exited, err).toBe(0);
    expect(err).toBe('');
  });
});
