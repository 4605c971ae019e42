import { existsSync, watch } from 'node:fs';
import { dirname } from 'node:path';

/** Resolves once `file` is gone, on its directory's own events (checked once first: it may be gone already). */
export function gone(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dirname(file), () => {
      if (existsSync(file)) return;
      watcher.close();
      resolve();
    });
    if (!existsSync(file)) {
      watcher.close();
      resolve();
    }
  });
}
