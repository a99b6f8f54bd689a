import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from './load.js';
import type { TollboothConfig } from './schema.js';

/** Editors write a file in several steps; changes within this window are read once. */
const SETTLE_MS = 200;

/**
 * Reloads the configuration file when it changes or on SIGHUP. A file that fails validation is
 * rejected with every problem logged, and the running configuration stays; a valid one is
 * handed to `apply`. Watches the directory, not the file, because editors and Kubernetes
 * ConfigMaps replace files by renaming.
 */
export function watchConfigFile(
  file: string,
  env: NodeJS.ProcessEnv,
  log: Logger,
  apply: (config: TollboothConfig) => Promise<void>,
): { stop(): void } {
  const path = resolve(file);
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();

  const reload = (reason: string): void => {
    reloading = reloading.then(async () => {
      let config: TollboothConfig;
      try {
        config = loadConfig({ file: path, env });
      } catch (error) {
        const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
        log.error({ reason, file: path, problems }, 'configuration reload rejected: keeping the running configuration');
        return;
      }
      log.info({ reason, file: path }, 'configuration reloaded');
      await apply(config);
    });
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => reload('file changed'), SETTLE_MS);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path)) schedule();
    });
  } catch (error) {
    log.warn({ file: path, err: (error as Error).message }, 'cannot watch the configuration file; reload with SIGHUP');
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
