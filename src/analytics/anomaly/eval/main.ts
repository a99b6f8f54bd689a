import { parseArgs } from 'node:util';
import { type EvaluationOptions, evaluate, renderMarkdown } from './harness.js';

/**
 * `npm run eval:anomaly [-- --trials N --days D --seed S --settings '{"thresholdSigma":3}' --json]`:
 * prints the detection and false-alarm tables (Markdown, or the whole report as JSON).
 */
const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '200' },
    days: { type: 'string', default: '7' },
    seed: { type: 'string', default: '1' },
    'slot-ms': { type: 'string', default: '10000' },
    settings: { type: 'string', default: '{}' },
    json: { type: 'boolean', default: false },
  },
});

const options: EvaluationOptions = {
  trials: positiveInteger('trials', values.trials),
  days: positiveInteger('days', values.days),
  seed: positiveInteger('seed', values.seed),
  slotMs: positiveInteger('slot-ms', values['slot-ms']),
  settings: JSON.parse(values.settings) as EvaluationOptions['settings'],
};
const startedAt = performance.now();
const report = evaluate(options);
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else process.stdout.write(`${renderMarkdown(report)}\n\n(${((performance.now() - startedAt) / 1000).toFixed(1)} s)\n`);

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}
