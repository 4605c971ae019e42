import { afterAll, beforeAll } from 'vitest';
import type { Location } from '../../core/service.js';
import { serviceOf } from '../support/backends.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';
import { clusterContract, clusterNodesContract } from './cluster.contract.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
const locations: Location[] = [];
afterAll(async () => {
  await Promise.all(locations.map((l) => l.close?.()));
  await redis?.stop();
});

clusterContract({
  name: 'cluster-local',
  create: () => serviceOf('cluster', 'cluster-local'),
});

const clusterRedis = {
  name: 'cluster-redis',
  async create(namespace: string) {
    const prefix = `t:${namespace}:`;
    const location = await serviceOf('location', 'location-redis', { url: redis.url, prefix });
    locations.push(location);
    return serviceOf('cluster', 'cluster-redis', { url: redis.url, prefix, heartbeatMs: 100 }, { location });
  },
};
clusterContract(clusterRedis);
clusterNodesContract(clusterRedis);
