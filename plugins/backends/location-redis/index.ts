import type { Backend } from '../../../server/services/service.js';
import { connectRedis } from '../redis-connection.js';
import { RedisLocation } from './redis-location.js';

/** location-redis: registrations in Redis, seen by every node process of the domain (lookups cached per node). */
const backend: Backend<'location'> = {
  service: 'location',
  async create(ctx) {
    const { url, prefix, retainSeconds, connectTimeoutMs } = ctx.config as {
      url: string;
      prefix?: string;
      retainSeconds: number;
      connectTimeoutMs: number;
    };
    const redis = await connectRedis(url, `protofly-location-${process.pid}`, connectTimeoutMs);
    const sub = await connectRedis(url, `protofly-location-sub-${process.pid}`, connectTimeoutMs).catch(
      (err: unknown) => {
        redis.disconnect();
        throw err;
      },
    );
    const location = new RedisLocation(redis, sub, prefix ?? `pf:${ctx.domain}:`, retainSeconds * 1000);
    await location.listen();
    return location;
  },
};
export default backend;
