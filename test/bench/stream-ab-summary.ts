/**
 * Summary of `test/bench/stream-ab.sh`: reads its rounds (a TSV of round, variant, streams/s,
 * gateway µs of CPU per stream), prints the medians with their ranges, each variant against `off`
 * paired within rounds, and judges issue 3's bar (streaming throughput, on ÷ off ≥ 0.90).
 */
import { readFileSync } from 'node:fs';
import { barLines, figureTable, FigureBook, judge, type Comparison } from './report.js';

const [file, scenario = 'stream64'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: stream-ab-summary <results.tsv> [stream64|chat16]');
const streaming = scenario === 'stream64';
const unit = streaming ? 'stream' : 'request';
const rows = readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [round, variant, rate, micros] = line.split('\t');
    return { round: Number(round) - 1, variant: variant!, rate: Number(rate), micros: Number(micros) };
  });
const rounds = Math.max(...rows.map((row) => row.round)) + 1;
const variants = [...new Set(rows.map((row) => row.variant))];

const book = new FigureBook(rounds);
for (const row of rows) {
  book.put('throughput', streaming ? 'stream 64 unpaced c=32 throughput' : 'chat 16 tokens, not streamed, c=32 throughput', `${unit}s/s`, 'rate', row.variant, row.round, row.rate);
  book.put('cpu', `gateway CPU per ${unit}`, 'µs', 'time', row.variant, row.round, row.micros);
}
const figures = book.all();
const comparisons: Comparison[] = variants
  .filter((variant) => variant !== 'off')
  .map((variant) => ({ name: `${variant} vs off`, through: variant, base: 'off' }));
if (variants.includes('base')) comparisons.push({ name: 'on vs base', through: 'on', base: 'base' });

console.log(figureTable(figures, variants, comparisons));
console.log('(rate figures compare as ratios, CPU as differences; both paired within each round)');
if (streaming) console.log(
  barLines(
    judge(
      [{ name: 'issue 3: streaming throughput, on ÷ off', figureId: 'throughput', comparison: { name: 'on vs off', through: 'on', base: 'off' }, target: undefined, limit: 0.9, direction: 'at-least' }],
      figures,
    ),
  ),
);
