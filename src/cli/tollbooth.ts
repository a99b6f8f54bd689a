#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { ENV_OVERRIDES } from '../config/env.js';
import { exitOnSignals, startGateway } from '../main.js';
import { createLogger } from '../telemetry/logger.js';
import { runDemo } from './demo.js';

const USAGE = `usage: tollbooth <command> [options]

commands:
  start         run the gateway                       [--config FILE]
  demo          run simulated vLLM replicas for the loopback replicas of the config, and the gateway
                                                      [--config FILE]
  sim           run one simulated vLLM replica        (tollbooth sim --help)
  check-config  validate a configuration and exit     [--config FILE]

The config file may also be named by TOLLBOOTH_CONFIG. Environment overrides:
${ENV_OVERRIDES.map((override) => `  ${override.variable.padEnd(40)}${override.description}`).join('\n')}
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
    case 'demo':
    case 'check-config': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } });
      const config = loadConfig({ file: values.config });
      if (command === 'check-config') {
        process.stdout.write(`configuration is valid: ${config.replicas.length} replica(s)\n`);
        return;
      }
      const log = createLogger(config.logging.level);
      if (command === 'demo') {
        await runDemo(config, log);
        return;
      }
      const running = await startGateway(config, log, { configFile: values.config ?? process.env.TOLLBOOTH_CONFIG });
      exitOnSignals(running.shutdown, log);
      return;
    }
    case 'sim': {
      const { runSimulatorCommand } = await import('../sim/cli.js');
      await runSimulatorCommand(rest);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tollbooth: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
