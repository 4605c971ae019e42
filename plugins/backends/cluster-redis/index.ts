import { ProtoflyError } from '../../../core/errors.js';
import { type Backend, TOKENS } from '../../../server/services/service.js';
import { connectRedis, keyPrefix, type RedisTarget } from '../redis-connection.js';
import { RedisCluster } from './redis-cluster.js';

/**
 * cluster-redis: node processes of one domain reach each other's sessions through Redis
 * pub/sub. It needs a Location every node shares (location-redis): with a per-process one,
 * no node would find the others' sessions.
 */
const backend: Backend<'cluster'> = {
  service: 'cluster',
  async create(ctx) {
    const location = ctx.resolve(TOKENS.location);
    if (location.scope !== 'shared') {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `services.cluster: cluster-redis needs a location every node shares (location-redis), not one of scope '${location.scope}'`,
      );
    }
    const { prefix, heartbeatMs, deliveryTimeoutMs, connectTimeoutMs, holdReplicas, holdReplicaTimeoutMs } =
      ctx.config as {
        prefix?: string;
        heartbeatMs: number;
        deliveryTimeoutMs: number;
        connectTimeoutMs: number;
        holdReplicas?: number;
        holdReplicaTimeoutMs: number;
      };
    const keys = keyPrefix(prefix, ctx.domain);
    const redis = ctx.config as RedisTarget;
    const cmd = await connectRedis(redis, `protofly-cluster-${process.pid}`, connectTimeoutMs);
    const sub = await connectRedis(redis, `protofly-cluster-sub-${process.pid}`, connectTimeoutMs).catch(
      (err: unknown) => {
        cmd.disconnect();
        throw err;
      },
    );
    // A Redis Cluster has replicas (failover needs them); one Redis has none unless told.
    const replicas = holdReplicas ?? ('cluster' in redis ? 1 : 0);
    const holds =
      replicas > 0
        ? await connectRedis(redis, `protofly-cluster-holds-${process.pid}`, connectTimeoutMs).catch(
            (err: unknown) => {
              cmd.disconnect();
              sub.disconnect();
              throw err;
            },
          )
        : cmd;
    return new RedisCluster(
      cmd,
      sub,
      { prefix: keys, heartbeatMs, deliveryTimeoutMs, holdReplicas: replicas, holdReplicaTimeoutMs },
      holds,
    );
  },
};
export default backend;
