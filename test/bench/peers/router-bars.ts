/**
 * Issue 24's bars, judged on the peer benchmark's figures: Tollbooth against the Rust vllm-router,
 * paired within each round. Beside them the same comparisons for the Node floor
 * (peers/node-floor.ts), not judged: when the floor itself is above a bar, that bar asks for less
 * than node:http and undici cost before Tollbooth does anything.
 */
import { formatSpread, judge, type Bar, type BarOutcome, type Figure } from '../report.js';

export const ROUTER = 'vllm-router';
export const GATEWAY = 'tollbooth';
export const NODE_FLOOR = 'node-floor';

/** The bars on router comparisons, for `through` (Tollbooth, or the floor as a reference). */
function routerComparisons(through: string): Bar[] {
  const against = (asRatio: boolean) => ({ name: `${through} vs ${ROUTER}`, through, base: ROUTER, asRatio });
  return [
    { name: `CPU per non-streaming request, c=32, ÷ ${ROUTER}'s`, figureId: 'nonstream.c32.cpu', comparison: against(true), target: undefined, limit: 1.6, direction: 'at-most' },
    { name: `CPU per paced stream, 10 streams, ÷ ${ROUTER}'s`, figureId: 'paced.n10.cpustream', comparison: against(true), target: undefined, limit: 1.5, direction: 'at-most' },
    // Both are first content minus direct's in the same round, so direct cancels out.
    { name: `added TTFT p99, 100 paced streams, − ${ROUTER}'s (ms)`, figureId: 'paced.n100.fc99', comparison: against(false), target: undefined, limit: 1, direction: 'at-most' },
  ];
}

const MEMORY_BAR: Bar = { name: 'KiB per open stream', figureId: 'memory.perstream', comparison: undefined, target: GATEWAY, limit: 32, direction: 'at-most' };

export interface RouterBars {
  /** Tollbooth's bars (empty when Tollbooth or the router was not measured). */
  readonly gateway: readonly BarOutcome[];
  /** The same router comparisons for the Node floor (empty when it or the router was not measured). */
  readonly floor: readonly BarOutcome[];
  readonly text: string;
}

export function routerBars(figures: readonly Figure[], targets: readonly string[]): RouterBars {
  const measured = (name: string): boolean => targets.includes(name) && targets.includes(ROUTER);
  const gateway = measured(GATEWAY) ? judge([...routerComparisons(GATEWAY), MEMORY_BAR], figures) : [];
  const floor = measured(NODE_FLOOR) ? judge(routerComparisons(NODE_FLOOR), figures) : [];
  const lines = [
    ...gateway.map((outcome) => `${outcome.pass ? 'PASS' : 'MISS'}  ${GATEWAY} ${outcome.name}: ${formatSpread(outcome.value)} (bar ≤ ${outcome.limit})`),
    ...floor.map((outcome) => {
      const where = Number.isNaN(outcome.value.median) ? 'not measured' : outcome.pass ? 'within' : 'above';
      return `      ${NODE_FLOOR} ${outcome.name}: ${formatSpread(outcome.value)} (${where} Tollbooth's bar ≤ ${outcome.limit})`;
    }),
  ];
  const text =
    lines.length === 0
      ? `Issue 24's bars: not judged (${ROUTER} and ${GATEWAY} or ${NODE_FLOOR} were not both measured).`
      : `Issue 24's bars (medians of paired rounds [min…max]), with the Node floor's same figures beside them (not judged):\n${lines.join('\n')}`;
  return { gateway, floor, text };
}
