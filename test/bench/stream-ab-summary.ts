/**
 * Summary of `test/bench/stream-ab.sh`: reads its rounds (a TSV of round, variant, streams/s,
 * gateway µs of CPU per stream), prints the medians with their ranges and each variant against the
 * pair's baseline, paired within rounds. `instrumentation` judges issue 3's bar (streaming
 * throughput, on ÷ off ≥ 0.90); `analytics` and `guardrails` judge a "no cost" bar: whether the
 * 95 % interval of the median paired ratio (or CPU difference) holds 1 (or 0), i.e. whether the
 * difference stays within the noise between rounds.
 */
import { readFileSync } from 'node:fs';
import { barLines, compare, figureTable, FigureBook, judge, type Comparison, type Figure } from './report.js';
import { medianInterval } from './stats.js';

/** Per pair of stream-ab.sh: the variant the others are compared with, and the "no cost" claim judged. */
const PAIRS: Record<string, { baseline: string; claim?: string }> = {
  instrumentation: { baseline: 'off' },
  analytics: { baseline: 'no-analytics', claim: 'issue 21: no per-request cost, analytics vs no-analytics' },
  guardrails: { baseline: 'base', claim: "issue 25: guardrails off, this build vs the build before guardrails" },
};

const [file, scenario = 'stream64', pairName = 'instrumentation'] = process.argv.slice(2);
const pair = PAIRS[pairName];
if (file === undefined || pair === undefined) throw new Error('usage: stream-ab-summary <results.tsv> [stream64|chat16] [instrumentation|analytics|guardrails]');
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
  .filter((variant) => variant !== pair.baseline)
  .map((variant) => ({ name: `${variant} vs ${pair.baseline}`, through: variant, base: pair.baseline }));
if (pairName === 'instrumentation' && variants.includes('base')) comparisons.push({ name: 'on vs base', through: 'on', base: 'base' });

console.log(figureTable(figures, variants, comparisons));
console.log('(rate figures compare as ratios, CPU as differences; both paired within each round)');
if (pairName === 'instrumentation' && streaming) {
  console.log(
    barLines(
      judge(
        [{ name: 'issue 3: streaming throughput, on ÷ off', figureId: 'throughput', comparison: { name: 'on vs off', through: 'on', base: 'off' }, target: undefined, limit: 0.9, direction: 'at-least' }],
        figures,
      ),
    ),
  );
}
if (pair.claim !== undefined) {
  for (const comparison of comparisons) {
    // The baseline's twin is a second process of the same build and settings: what it differs by is the noise itself.
    const twin = comparison.through === `${pair.baseline}-twin`;
    console.log(noCostLines(twin ? undefined : pair.claim, comparison, figures));
  }
}

/**
 * Each figure of a comparison: the median paired ratio (throughput) or difference (CPU), the 95 %
 * order-statistic interval of that median and the rounds' range. With a claim, whether it shows no
 * cost: the interval holds 1 (or 0). Without (the twin), the line is the noise to read it against.
 */
function noCostLines(claim: string | undefined, comparison: Comparison, all: readonly Figure[]): string {
  return all
    .map((figure) => {
      const paired = compare(figure, comparison);
      const interval = medianInterval(paired.rounds);
      const neutral = figure.kind === 'rate' ? 1 : 0;
      const within = interval.low <= neutral && neutral <= interval.high;
      const what = figure.kind === 'rate' ? `${figure.label} ${comparison.through} ÷ ${comparison.base}` : `${figure.label} ${comparison.through} − ${comparison.base} (${figure.unit})`;
      const lead = claim === undefined ? 'NOISE         two processes of the baseline' : `${within ? 'WITHIN NOISE ' : 'OUTSIDE NOISE'} ${claim}`;
      return (
        `${lead}: ${what} median ${paired.median.toFixed(3)}, ` +
        `${(interval.coverage * 100).toFixed(0)} % interval of the median ${interval.low.toFixed(3)}…${interval.high.toFixed(3)}, rounds ${paired.min.toFixed(3)}…${paired.max.toFixed(3)}`
      );
    })
    .join('\n');
}
