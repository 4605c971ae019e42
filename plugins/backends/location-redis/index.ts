import type { Backend } from '../../../server/services/service.js';
import { connectRedis, keyPrefix, type RedisTarget } from '../redis-connection.js';
import { RedisLocation } from './redis-location.js';

/** location-redis: bindings in Redis, seen by every node process of the domain (lookups cached per node). */
const backend: Backend<'location'> = {
  service: 'location',
  async create(ctx) {
    const { prefix, retainSeconds, connectTimeoutMs } = ctx.config as {
      prefix?: string;
      retainSeconds: number;
      connectTimeoutMs: number;
    };
    const keys = keyPrefix(prefix, ctx.domain);
    const target = ctx.config as RedisTarget;
    const redis = await connectRedis(target, `protofly-location-${process.pid}`, connectTimeoutMs);
    const sub = await connectRedis(target, `protofly-location-sub-${process.pid}`, connectTimeoutMs).catch(
      (err: unknown) => {
        redis.disconnect();
        throw err;
      },
    );
    const location = new RedisLocation(redis, sub, keys, retainSeconds * 1000);
    await location.listen();
    return location;
  },
};
export default backend;
