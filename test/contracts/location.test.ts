import { afterAll, beforeAll } from 'vitest';
import { serviceOf } from '../support/backends.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';
import { locationContract } from './location.contract.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

locationContract({
  name: 'location-memory',
  create: ({ retainSeconds }) => serviceOf('location', 'location-memory', { retainSeconds }),
});

locationContract({
  name: 'location-redis',
  create: ({ retainSeconds, namespace }) =>
    serviceOf('location', 'location-redis', { url: redis.url, prefix: `t:${namespace}:`, retainSeconds }),
});
