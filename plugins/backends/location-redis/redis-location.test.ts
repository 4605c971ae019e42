import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serviceOf } from '../../../test/support/backends.js';
import { type RedisClusterServers, startRedisCluster } from '../../../test/support/redis-server.js';
import { closeRedis, connectRedis, type RedisLink } from '../redis-connection.js';
import { RedisLocation } from './redis-location.js';

let redis: RedisClusterServers;
let link: RedisLink;
beforeAll(async () => {
  redis = await startRedisCluster();
  link = await connectRedis({ cluster: redis.seeds }, 'location-slots', 5000);
});
afterAll(async () => {
  if (link) await closeRedis(link);
  await redis?.stop();
});

/** Text of the characters that move a key's hash tag (and others), never empty. */
const tagged = fc.string({
  unit: fc.constantFrom('{', '}', 'a', 'b', ':', '/'),
  minLength: 1,
  maxLength: 12,
});

it("registers, finds and forgets any address on a Redis Cluster, whatever braces it holds: each script's keys share a slot", async () => {
  const owner = 'user://b.example/bob';
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: fc.constantFrom('p', ':', '.'), maxLength: 6 }),
      tagged,
      async (prefix, path) => {
        // Not listening: every lookup goes to Redis, as this property needs.
        const location = new RedisLocation(link, link, prefix, 60_000);
        const address = `hyperty://b.example/${path}`;
        const reg = { address, owner, node: 'n1', session: 'n1.1', since: 1, expires: Date.now() + 60_000 };
        // A key of another slot in a script is CROSSSLOT: the call rejects.
        expect(await location.register(reg)).toBe(true);
        expect(await location.lookup(address)).toEqual([reg]);
        await location.unregister(address, 'n1.1');
        expect(await location.register({ ...reg, owner: 'user://b.example/eve', session: 'n1.2' })).toBe(
          false,
        );
      },
    ),
    { numRuns: 60 },
  );
});

it('refuses a prefix holding a brace, which would move the hash tag of every key, with PF_ERR_CONFIG', async () => {
  await expect(
    serviceOf('location', 'location-redis', { cluster: redis.seeds, prefix: 'pf:{}:' }),
  ).rejects.toThrow(
    "PF_ERR_CONFIG: prefix: 'pf:{}:' holds a brace, which would move the hash tag of every key",
  );
});

it('announces changes on a Redis Cluster on sharded channels, never on a global one (which every server would carry)', async () => {
  const prefix = 'announce:';
  const [one, two] = [
    await serviceOf('location', 'location-redis', { cluster: redis.seeds, prefix }),
    await serviceOf('location', 'location-redis', { cluster: redis.seeds, prefix }),
  ];
  try {
    const address = 'user://b.example/ann';
    // Looked up (and cached) by one node, then registered by the other: the first hears of it.
    expect(await two.lookup(address)).toEqual([]);
    const reg = {
      address,
      owner: address,
      node: 'n1',
      session: 'n1.1',
      since: 1,
      expires: Date.now() + 60_000,
    };
    expect(await one.register(reg)).toBe(true);
    await expect.poll(() => two.lookup(address)).toEqual([reg]);
    await one.unregister(address, 'n1.1');
    await expect.poll(() => two.lookup(address)).toEqual([]);
    const channels = async (command: string) =>
      (
        await Promise.all(
          redis.servers.map((s) => connectRedis({ url: `redis://127.0.0.1:${s.port}` }, 'pubsub', 5000)),
        ).then((links) =>
          Promise.all(
            links.map(async (l) => {
              try {
                return (await l.call('PUBSUB', command, `${prefix}*`)) as string[];
              } finally {
                l.disconnect();
              }
            }),
          ),
        )
      ).flat();
    expect(await channels('CHANNELS')).toEqual([]);
    expect(
      (await channels('SHARDCHANNELS')).filter((c) => c.startsWith(`${prefix}loc-changed:{`)).length,
    ).toBe(64);
  } finally {
    await Promise.all([one.close?.(), two.close?.()]);
  }
});
