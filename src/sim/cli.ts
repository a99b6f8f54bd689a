import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { parse as parseYaml } from 'yaml';

import { startSimulator } from './index.js';
import { simulatorOptionsSchema, type SimulatorOptionsInput } from './options.js';

const USAGE = `tollbooth sim: run one simulated vLLM OpenAI-compatible server

Usage: tollbooth sim [options]

  --port <n>              port to listen on (default 0 = any free port)
  --host <addr>           address to bind (default 127.0.0.1)
  --model <name>          served model name; repeat for several (default tollbooth-sim-model)
  --seed <n>              make every response reproducible
  --ttft-ms <ms>          base prefill time before the first token (default 15)
  --itl-ms <ms>           inter-token latency, 0 = unpaced (default 10)
  --tokens-per-chunk <n>  tokens per streamed chunk, like vLLM --stream-interval (default 1)
  --gpu-name <name>       the simulated GPU's model name at GET /dcgm/metrics (default NVIDIA A100-SXM4-80GB)
  --gpu-memory-mib <n>    the simulated GPU's memory in MiB (default 81920)
  --otlp-traces-endpoint <url>
                          export an llm_request span per finished request, as vLLM does, over
                          OTLP/HTTP protobuf (e.g. http://127.0.0.1:4318); honours traceparent
  --config <file.yaml>    simulator options as YAML (flags override it)
  --help                  show this help

Fault and timing headers per request: see src/sim/README.md.
`;

function numberFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number, got '${raw}'`);
  return value;
}

/** Turns argv into validated simulator options (exported for tests). */
export async function simulatorOptionsFromArgs(argv: string[]): Promise<SimulatorOptionsInput | 'help'> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      model: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'ttft-ms': { type: 'string' },
      'itl-ms': { type: 'string' },
      'tokens-per-chunk': { type: 'string' },
      'gpu-name': { type: 'string' },
      'gpu-memory-mib': { type: 'string' },
      'otlp-traces-endpoint': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) return 'help';
  const fromFile: unknown = values.config === undefined ? {} : parseYaml(await readFile(values.config, 'utf8'));
  const base = typeof fromFile === 'object' && fromFile !== null ? (fromFile as SimulatorOptionsInput) : {};
  const flags: SimulatorOptionsInput = {};
  const port = numberFlag('port', values.port);
  if (port !== undefined) flags.port = port;
  if (values.host !== undefined) flags.host = values.host;
  if (values.model !== undefined && values.model.length > 0) flags.models = values.model;
  const seed = numberFlag('seed', values.seed);
  if (seed !== undefined) flags.seed = seed;
  const ttft = numberFlag('ttft-ms', values['ttft-ms']);
  if (ttft !== undefined) flags.prefillBaseMs = ttft;
  const itl = numberFlag('itl-ms', values['itl-ms']);
  if (itl !== undefined) flags.interTokenMs = itl;
  const perChunk = numberFlag('tokens-per-chunk', values['tokens-per-chunk']);
  if (perChunk !== undefined) flags.tokensPerChunk = perChunk;
  if (values['otlp-traces-endpoint'] !== undefined) flags.otlpTracesEndpoint = values['otlp-traces-endpoint'];
  const gpuMemory = numberFlag('gpu-memory-mib', values['gpu-memory-mib']);
  if (values['gpu-name'] !== undefined || gpuMemory !== undefined) {
    flags.gpu = {
      ...base.gpu,
      ...(values['gpu-name'] === undefined ? {} : { name: values['gpu-name'] }),
      ...(gpuMemory === undefined ? {} : { memoryMiB: gpuMemory }),
    };
  }
  const merged = { ...base, ...flags };
  // Validate here so a bad config file fails before anything listens.
  simulatorOptionsSchema.parse(merged);
  return merged;
}

/** `tollbooth sim`: start, print one JSON log line with the URL, stop cleanly on SIGTERM/SIGINT. */
export async function runSimulatorCommand(argv: string[]): Promise<void> {
  const options = await simulatorOptionsFromArgs(argv);
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const simulator = await startSimulator(options);
  const models = options.models ?? simulatorOptionsSchema.parse(options).models;
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'vLLM simulator listening', url: simulator.url, models })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'vLLM simulator stopping', signal })}\n`);
      void simulator.close().then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
