import type { Redis } from 'ioredis';

/** What a redis-server spent so far: CPU time (user + system, µs) and commands run. */
export interface RedisUsage {
  readonly cpuUs: number;
  readonly commands: number;
}

/** A redis-server's usage from INFO, through `redis`; the INFO calls themselves are not counted. */
export async function redisUsage(redis: Redis): Promise<RedisUsage> {
  const cpu = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)![1]);
  const commandstats = await redis.info('commandstats');
  let commands = 0;
  for (const m of commandstats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (m[1] !== 'info') commands += Number(m[2]);
  }
  return { cpuUs: (field('used_cpu_user') + field('used_cpu_sys')) * 1e6, commands };
}
