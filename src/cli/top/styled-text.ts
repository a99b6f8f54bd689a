/**
 * Text made of styled segments, measured by what the terminal shows (escape codes take no columns),
 * so the renderer fits every line to an exact width first and decides about colour last.
 */

/** What a segment means; the one table below says how each looks. */
export type Style = 'plain' | 'border' | 'title' | 'label' | 'value' | 'dim' | 'ok' | 'warn' | 'bad' | 'alarm' | 'barEmpty';

export interface Segment {
  readonly text: string;
  readonly style: Style;
}

export type Line = readonly Segment[];

/** SGR parameters per style: the 16 base colours, so every terminal theme keeps them readable. */
const SGR: Record<Style, string> = {
  plain: '',
  border: '34',
  title: '1',
  label: '36',
  value: '1',
  dim: '2',
  ok: '32',
  warn: '33',
  bad: '31',
  alarm: '1;37;41',
  barEmpty: '2',
};

export function seg(text: string, style: Style = 'plain'): Segment {
  return { text, style };
}

/** Columns a string takes: one per code point (the renderer writes no wide or combining characters of its own). */
export function columns(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

export function lineWidth(line: Line): number {
  return line.reduce((sum, segment) => sum + columns(segment.text), 0);
}

/** The first `width` columns of a string. */
function take(text: string, width: number): string {
  return Array.from(text).slice(0, Math.max(0, width)).join('');
}

/**
 * Exactly `width` columns: padded with spaces, or cut with "…" as its last column. Text from the
 * gateway (replica names, alert messages) loses control characters first, so it cannot move the
 * cursor or change colours.
 */
export function fit(line: Line, width: number): Line {
  const clean = line.map((segment) => seg(segment.text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '), segment.style));
  const total = lineWidth(clean);
  if (total <= width) return total === width ? clean : [...clean, seg(' '.repeat(width - total))];
  const out: Segment[] = [];
  let room = width - 1;
  for (const segment of clean) {
    if (room <= 0) break;
    const text = take(segment.text, room);
    out.push(seg(text, segment.style));
    room -= columns(text);
  }
  const lastStyle = out.length > 0 ? out[out.length - 1]!.style : 'plain';
  if (width > 0) out.push(seg('…', lastStyle));
  return out;
}

/** A cell of a table: the text right- or left-aligned in exactly `width` columns. */
export function cell(text: string, width: number, style: Style = 'plain', align: 'left' | 'right' = 'left'): Segment {
  const shown = columns(text) > width ? `${take(text, width - 1)}…` : text;
  const padding = ' '.repeat(Math.max(0, width - columns(shown)));
  return seg(align === 'left' ? shown + padding : padding + shown, style);
}

/** The line as the terminal should print it: with SGR colour codes, or plain text. */
export function serialize(line: Line, color: boolean): string {
  if (!color) return line.map((segment) => segment.text).join('');
  let out = '';
  for (const segment of line) {
    const sgr = SGR[segment.style];
    out += sgr === '' || segment.text === '' ? segment.text : `\u001b[${sgr}m${segment.text}\u001b[0m`;
  }
  return out;
}
