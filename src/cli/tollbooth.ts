#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { ENV_OVERRIDES } from '../config/env.js';
import { adminSurfaceWarnings } from '../admin/surface.js';
import { startTracing } from '../telemetry/tracing/sdk.js';
import { withDemoKey } from './demo-key.js';

const USAGE = `usage: tollbooth <command> [options]

commands:
  start         run the gateway                       [--config FILE]
  demo          run simulated vLLM replicas for the loopback replicas of the config, and the gateway
                                                      [--config FILE]
  stack         the whole picture on one machine: simulators, Redis, two gateways, Prometheus and
                Alertmanager                          (tollbooth stack --help)
  sim           run one simulated vLLM replica        (tollbooth sim --help)
  keys          create, list and revoke API keys      (tollbooth keys --help)
  top           watch a gateway live in the terminal  (tollbooth top --help)
  capacity      replicas needed, headroom and forecast per model, from a gateway or Prometheus
                                                      (tollbooth capacity --help)
  report        SLA, cost and prefix-cache ROI report from Prometheus
                                                      (tollbooth report --help)
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
      const demoKey = command === 'demo' ? withDemoKey(process.env) : undefined;
      const config = loadConfig({ file: values.config, env: demoKey?.env ?? process.env });
      if (command === 'check-config') {
        process.stdout.write(`configuration is valid: ${config.replicas.length} replica(s)\n`);
        for (const warning of adminSurfaceWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
        return;
      }
      // The tracing SDK starts before pino, fastify and ioredis are first imported, so its
      // instrumentations see them load: everything after this line is imported dynamically.
      const tracing = await startTracing(config.tracing, { redis: config.rateLimits.store === 'redis' || config.auth.store === 'redis' });
      const { createLogger } = await import('../telemetry/logger.js');
      const log = createLogger(config.logging.level);
      tracing.report(log);
      if (command === 'demo') {
        const { runDemo } = await import('./demo.js');
        await runDemo(config, log, { demoKey: demoKey?.secret, tracing });
        return;
      }
      const { exitOnSignals, startGateway } = await import('../main.js');
      const running = await startGateway(config, log, { configFile: values.config ?? process.env.TOLLBOOTH_CONFIG, tracing });
      exitOnSignals(running.shutdown, log);
      return;
    }
    case 'stack': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, 'free-ports': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
      const { runStack, STACK_USAGE } = await import('./stack.js');
      if (values.help === true) {
        process.stdout.write(STACK_USAGE);
        return;
      }
      await runStack({ configFile: values.config, freePorts: values['free-ports'] === true });
      return;
    }
    case 'sim': {
      const { runSimulatorCommand } = await import('../sim/cli.js');
      await runSimulatorCommand(rest);
      return;
    }
    case 'keys': {
      const { runKeysCommand } = await import('./keys.js');
      process.exitCode = await runKeysCommand(rest);
      return;
    }
    case 'top': {
      const { runTopCommand } = await import('./top/run.js');
      process.exitCode = await runTopCommand(rest);
      return;
    }
    case 'capacity': {
      const { runCapacityCommand } = await import('./capacity.js');
      process.exitCode = await runCapacityCommand(rest);
      return;
    }
    case 'report': {
      const { runReportCommand } = await import('./report.js');
      process.exitCode = await runReportCommand(rest);
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
