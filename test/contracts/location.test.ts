import { serviceOf } from '../support/backends.js';
import { redisClusterOnDemand, redisOnDemand } from '../support/redis-server.js';
import { locationContract } from './location.contract.js';

const redis = redisOnDemand();
const redisCluster = redisClusterOnDemand();

locationContract({
  name: 'location-memory',
  create: ({ retainSeconds }) => serviceOf('location', 'location-memory', { retainSeconds }),
});

locationContract({
  name: 'location-redis',
  create: async ({ retainSeconds, namespace }) =>
    serviceOf('location', 'location-redis', {
      url: (await redis()).url,
      prefix: `t:${namespace}:`,
      retainSeconds,
    }),
});

locationContract({
  name: 'location-redis on a Redis Cluster',
  create: async ({ retainSeconds, namespace }) =>
    serviceOf('location', 'location-redis', {
      cluster: (await redisCluster()).seeds,
      prefix: `t:${namespace}:`,
      retainSeconds,
    }),
});
