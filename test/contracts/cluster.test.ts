import { afterAll } from 'vitest';
import type { Location } from '../../server/services/service.js';
import { serviceOf } from '../support/backends.js';
import { redisOnDemand } from '../support/redis-server.js';
import { clusterContract, clusterNodesContract } from './cluster.contract.js';

const redis = redisOnDemand();
const locations: Location[] = [];
afterAll(async () => {
  await Promise.all(locations.map((l) => l.close?.()));
});

clusterContract({
  name: 'cluster-local',
  create: () => serviceOf('cluster', 'cluster-local'),
});

const clusterRedis = {
  name: 'cluster-redis',
  async create(namespace: string) {
    const prefix = `t:${namespace}:`;
    const { url } = await redis();
    const location = await serviceOf('location', 'location-redis', { url, prefix });
    locations.push(location);
    return serviceOf('cluster', 'cluster-redis', { url, prefix, heartbeatMs: 100 }, { location });
  },
};
clusterContract(clusterRedis);
clusterNodesContract(clusterRedis);
