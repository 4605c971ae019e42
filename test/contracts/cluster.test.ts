import { afterAll } from 'vitest';
import type { Location } from '../../server/services/service.js';
import { serviceOf } from '../support/backends.js';
import { redisClusterOnDemand, redisOnDemand } from '../support/redis-server.js';
import { clusterContract, clusterNodesContract } from './cluster.contract.js';

const redis = redisOnDemand();
const redisCluster = redisClusterOnDemand();
const locations: Location[] = [];
afterAll(async () => {
  await Promise.all(locations.map((l) => l.close?.()));
});

clusterContract({
  name: 'cluster-local',
  create: () => serviceOf('cluster', 'cluster-local'),
});

/** cluster-redis on the Redis that `target` names (config `url` or `cluster`). */
const clusterRedis = (name: string, target: () => Promise<Record<string, unknown>>) => ({
  name,
  async create(namespace: string) {
    const prefix = `t:${namespace}:`;
    const redisConfig = await target();
    const location = await serviceOf('location', 'location-redis', { ...redisConfig, prefix });
    locations.push(location);
    return serviceOf('cluster', 'cluster-redis', { ...redisConfig, prefix, heartbeatMs: 100 }, { location });
  },
});
const onOneRedis = clusterRedis('cluster-redis', async () => ({ url: (await redis()).url }));
clusterContract(onOneRedis);
clusterNodesContract(onOneRedis);
const onRedisCluster = clusterRedis('cluster-redis on a Redis Cluster', async () => ({
  cluster: (await redisCluster()).seeds,
}));
clusterContract(onRedisCluster);
clusterNodesContract(onRedisCluster);
