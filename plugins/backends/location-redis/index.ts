import type { Backend } from '../../../server/services/service.js';
import { connectRedis, keyPrefix, type RedisTarget } from '../redis-connection.js';
import { RedisLocation } from './redis-location.js';

/** location-redis: registrations in Redis, seen by every node process of the domain. */
const backend: Backend<'location'> = {
  service: 'location',
  async create(ctx) {
    const { prefix, retainSeconds, connectTimeoutMs } = ctx.config as {
      prefix?: string;
      retainSeconds: number;
      connectTimeoutMs: number;
    };
    const keys = keyPrefix(prefix, ctx.domain);
    const redis = await connectRedis(
      ctx.config as RedisTarget,
      `protofly-location-${process.pid}`,
      connectTimeoutMs,
    );
    return new RedisLocation(redis, keys, retainSeconds * 1000);
  },
};
export default backend;
