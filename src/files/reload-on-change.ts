import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/** Editors write a file in several steps; changes within this window are read once. */
const SETTLE_MS = 200;
/**
 * The symlink Kubernetes' atomic writer swaps when a mounted ConfigMap or Secret changes: the file
 * itself is a symlink through it (keys.yaml -> ..data/keys.yaml), so its own name never changes.
 */
const KUBERNETES_VOLUME_DATA_LINK = '..data';

/**
 * Calls `reload` when the file at `path` (absolute) changes, or on SIGHUP. Watches the
 * directory, not the file, because editors replace files by renaming and Kubernetes volumes swap
 * the `..data` symlink the file points through;
 * when the directory cannot be watched, SIGHUP still works and the log says so. `what` names the
 * file in that log line ("configuration file", "keys file").
 */
export function reloadOnChange(path: string, what: string, log: Logger, reload: (reason: string) => void): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => reload('file changed'), SETTLE_MS);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path) || name === KUBERNETES_VOLUME_DATA_LINK) schedule();
    });
    watcher.on('error', (error) => log.warn({ file: path, err: error.message }, `${what} watch failed; reload with SIGHUP`));
  } catch (error) {
    log.warn({ file: path, err: (error as Error).message }, `cannot watch the ${what}; reload with SIGHUP`);
  }
  const onHangUp = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHangUp);
  return {
    stop: () => {
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHangUp);
    },
  };
}
