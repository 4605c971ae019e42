import { Redis } from 'ioredis';
import { ProtoflyError } from '../../core/errors.js';

/** A Lua script run by its SHA (ioredis loads it again after a Redis restart). */
export type Script<R> = (...args: (string | Buffer | number)[]) => Promise<R>;

/**
 * A connection to the Redis the backends of a clustered domain share. It reconnects by
 * itself, forever, and commands issued while it is away wait for it rather than fail
 * (`maxRetriesPerRequest: null`): a Redis restart delays messages, it does not refuse them.
 * Commands issued in one tick go in one write (auto-pipelining).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when Redis does not answer within `connectTimeoutMs`
 *   at start: a wrong URL fails the start instead of waiting forever.
 */
export async function connectRedis(url: string, name: string, connectTimeoutMs: number): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    autoResubscribe: false,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  // Connection errors come again as reconnects; commands report their own.
  redis.on('error', () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot reach Redis at ${url}: ${(err as Error).message}`, {
      url,
    });
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/** Defines a Lua script on `redis` and returns the function that runs it; `buffers` for binary replies. */
export function defineScript<R>(
  redis: Redis,
  name: string,
  keys: number,
  lua: string,
  buffers = false,
): Script<R> {
  redis.defineCommand(name, { numberOfKeys: keys, lua });
  const method = buffers ? `${name}Buffer` : name;
  return (...args) => (redis as unknown as Record<string, Script<R>>)[method]!(...args);
}

/** Closes a connection: politely when Redis is there (what was sent is answered first), at once when it is not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return redis.disconnect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    redis.quit().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => resolve(redis.disconnect()), 1000);
    }),
  ]);
  clearTimeout(timer);
}
