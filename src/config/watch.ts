import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { reloadOnChange } from '../files/reload-on-change.js';
import { ConfigError, loadConfig } from './load.js';
import type { TollboothConfig } from './schema.js';
import type { InternalErrors } from '../errors/internal-errors.js';

/**
 * Reloads the configuration file when it changes or on SIGHUP. A file that fails validation is
 * rejected with every problem logged, and the running configuration stays; a valid one is
 * handed to `apply`.
 */
export function watchConfigFile(
  file: string,
  env: NodeJS.ProcessEnv,
  log: Logger,
  apply: (config: TollboothConfig) => Promise<void>,
  internalErrors: InternalErrors,
): { stop(): void } {
  const path = resolve(file);
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
    // Nothing awaits the chain: a failed apply is reported here, and the next reload still runs.
    reloading = reloading.catch((error: unknown) => internalErrors.report('config_reload', error));
  };
  return reloadOnChange(path, 'configuration file', log, reload);
}
