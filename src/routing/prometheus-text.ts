/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), enough to read the
 * samples a gateway needs from a replica's GET /metrics:
 *
 *   name{label="value",…} value [timestamp]
 *
 * - `#` lines (HELP, TYPE, `# EOF`, any comment) and blank lines are ignored; CRLF is accepted.
 * - Label values may hold the escapes `\\`, `\"` and `\n`; any other escape makes the line malformed
 *   (as in Prometheus' own parser). A trailing comma in the label set is accepted.
 * - Values: decimal floats, `NaN`, `+Inf`, `-Inf` (also `Inf`); the optional timestamp is an integer.
 * - With `names`, a line whose metric name is not wanted is skipped right after its name is read:
 *   its labels and value are never parsed (nor validated). A vLLM page has thousands of histogram
 *   bucket lines; picking a handful of gauges costs one short scan per line.
 * - Never throws on its input: a malformed line is skipped and counted.
 *
 * Not supported (vLLM does not emit them): quoted UTF-8 metric names (`{"name"}`), OpenMetrics
 * exemplars (` # {…}` after the value).
 */

export type PrometheusLabels = Readonly<Record<string, string>>;

export interface PrometheusSample {
  /** The sample name as written (`foo_bucket`, `foo_total`, …), not the family name. */
  readonly name: string;
  /** A null-prototype object, so label names such as `__proto__` or `constructor` are plain keys. */
  readonly labels: PrometheusLabels;
  readonly value: number;
  /** Milliseconds since the epoch, when the line has one. */
  readonly timestamp: number | undefined;
}

export interface PrometheusScanResult {
  /** Sample lines parsed and handed to the visitor. */
  readonly samples: number;
  /** Sample lines skipped because their name was not wanted (not validated). */
  readonly skipped: number;
  /** Lines that are neither blank, comments, nor well-formed samples. */
  readonly malformed: number;
  /** 1-based number of the first malformed line, for a log message. */
  readonly firstMalformedLine: number | undefined;
}

export interface PrometheusParseResult extends PrometheusScanResult {
  readonly sampleList: PrometheusSample[];
}

export interface PrometheusScanOptions {
  /** Only samples with one of these exact names are parsed; all others are skipped cheaply. */
  readonly names?: Iterable<string>;
}

export type SampleVisitor = (sample: PrometheusSample) => void;

/**
 * A reusable name filter: build it once (e.g. at module load) and pass it to {@link scanPrometheusText}
 * so repeated scrapes do not rebuild the sets.
 */
export class MetricNameFilter {
  private readonly names: ReadonlySet<string>;
  /** Lengths of the wanted names: a line whose name has another length is skipped without a slice. */
  private readonly lengths: ReadonlySet<number>;

  constructor(names: Iterable<string>) {
    this.names = new Set(names);
    this.lengths = new Set([...this.names].map((name) => name.length));
  }

  /** Whether `text.slice(start, end)` is a wanted name; slices only when the length could match. */
  wants(text: string, start: number, end: number): string | undefined {
    if (!this.lengths.has(end - start)) return undefined;
    const name = text.slice(start, end);
    return this.names.has(name) ? name : undefined;
  }
}

/** Parses every wanted sample into a list (convenience over {@link scanPrometheusText}). */
export function parsePrometheusText(text: string, options: PrometheusScanOptions = {}): PrometheusParseResult {
  const sampleList: PrometheusSample[] = [];
  const filter = options.names === undefined ? undefined : new MetricNameFilter(options.names);
  const result = scanPrometheusText(text, (sample) => sampleList.push(sample), filter);
  return { ...result, sampleList };
}

/** Calls `visit` for each well-formed sample line (of a wanted name, when `filter` is given), in order. */
export function scanPrometheusText(text: string, visit: SampleVisitor, filter?: MetricNameFilter): PrometheusScanResult {
  let samples = 0;
  let skipped = 0;
  let malformed = 0;
  let firstMalformedLine: number | undefined;
  let lineNumber = 0;
  let lineStart = 0;
  const length = text.length;

  while (lineStart < length) {
    lineNumber += 1;
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = length;
    const next = lineEnd + 1;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === CR) lineEnd -= 1;

    const position = skipBlanks(text, lineStart, lineEnd);
    if (position < lineEnd && text.charCodeAt(position) !== HASH) {
      const nameEnd = scanName(text, position, lineEnd);
      let wantedName: string | undefined;
      if (filter !== undefined && nameEnd > position) {
        wantedName = filter.wants(text, position, nameEnd);
        if (wantedName === undefined) {
          skipped += 1;
          lineStart = next;
          continue;
        }
      }
      const sample = nameEnd > position ? parseRest(text, wantedName ?? text.slice(position, nameEnd), nameEnd, lineEnd) : undefined;
      if (sample === undefined) {
        malformed += 1;
        firstMalformedLine ??= lineNumber;
      } else {
        samples += 1;
        visit(sample);
      }
    }
    lineStart = next;
  }
  return { samples, skipped, malformed, firstMalformedLine };
}

const CR = 13;
const HASH = 35;
const SPACE = 32;
const TAB = 9;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const EQUALS = 61;
const COMMA = 44;
const QUOTE = 34;
const BACKSLASH = 92;

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

function skipBlanks(text: string, position: number, end: number): number {
  while (position < end && isBlank(text.charCodeAt(position))) position += 1;
  return position;
}

/** `[a-zA-Z_:][a-zA-Z0-9_:]*`; returns the index after the name (== start when there is none). */
function scanName(text: string, start: number, end: number): number {
  let position = start;
  while (position < end) {
    const code = text.charCodeAt(position);
    const letter = (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 58;
    const digit = code >= 48 && code <= 57;
    if (!(letter || (digit && position > start))) break;
    position += 1;
  }
  return position;
}

/** `[a-zA-Z_][a-zA-Z0-9_]*` (label names have no colons). */
function scanLabelName(text: string, start: number, end: number): number {
  let position = start;
  while (position < end) {
    const code = text.charCodeAt(position);
    const letter = (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
    const digit = code >= 48 && code <= 57;
    if (!(letter || (digit && position > start))) break;
    position += 1;
  }
  return position;
}

/** Parses `{labels}`, the value and the timestamp after the name; undefined when malformed. */
function parseRest(text: string, name: string, start: number, end: number): PrometheusSample | undefined {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let position = start;
  const afterBlanks = skipBlanks(text, start, end);
  if (afterBlanks < end && text.charCodeAt(afterBlanks) === OPEN_BRACE) {
    position = parseLabels(text, afterBlanks + 1, end, labels);
    if (position < 0) return undefined;
  }

  // At least one blank separates the name or label set from the value.
  const valueStart = skipBlanks(text, position, end);
  if (valueStart === position || valueStart >= end) return undefined;
  let valueEnd = valueStart;
  while (valueEnd < end && !isBlank(text.charCodeAt(valueEnd))) valueEnd += 1;
  const value = parseValue(text.slice(valueStart, valueEnd));
  if (value === undefined) return undefined;

  let timestamp: number | undefined;
  const timestampStart = skipBlanks(text, valueEnd, end);
  if (timestampStart < end) {
    let timestampEnd = timestampStart;
    while (timestampEnd < end && !isBlank(text.charCodeAt(timestampEnd))) timestampEnd += 1;
    timestamp = parseTimestamp(text.slice(timestampStart, timestampEnd));
    if (timestamp === undefined) return undefined;
    if (skipBlanks(text, timestampEnd, end) !== end) return undefined;
  }
  return { name, labels, value, timestamp };
}

/** Parses `a="x",b="y"}` starting after `{`; returns the index after `}` or -1 when malformed. */
function parseLabels(text: string, start: number, end: number, labels: Record<string, string>): number {
  let position = skipBlanks(text, start, end);
  for (;;) {
    if (position >= end) return -1;
    if (text.charCodeAt(position) === CLOSE_BRACE) return position + 1;

    const nameEnd = scanLabelName(text, position, end);
    if (nameEnd === position) return -1;
    const labelName = text.slice(position, nameEnd);
    position = skipBlanks(text, nameEnd, end);
    if (position >= end || text.charCodeAt(position) !== EQUALS) return -1;
    position = skipBlanks(text, position + 1, end);
    if (position >= end || text.charCodeAt(position) !== QUOTE) return -1;

    // The value: fast path without escapes, slow path building the unescaped string.
    position += 1;
    const valueStart = position;
    let unescaped: string | undefined;
    let chunkStart = position;
    for (;;) {
      if (position >= end) return -1;
      const code = text.charCodeAt(position);
      if (code === QUOTE) break;
      if (code === BACKSLASH) {
        if (position + 1 >= end) return -1;
        const escaped = text.charCodeAt(position + 1);
        let replacement: string;
        if (escaped === BACKSLASH) replacement = '\\';
        else if (escaped === QUOTE) replacement = '"';
        else if (escaped === 110 /* n */) replacement = '\n';
        else return -1;
        unescaped = (unescaped ?? '') + text.slice(chunkStart, position) + replacement;
        position += 2;
        chunkStart = position;
        continue;
      }
      position += 1;
    }
    const labelValue = unescaped === undefined ? text.slice(valueStart, position) : unescaped + text.slice(chunkStart, position);
    if (Object.prototype.hasOwnProperty.call(labels, labelName)) return -1; // duplicate label name
    labels[labelName] = labelValue;

    position = skipBlanks(text, position + 1, end);
    if (position >= end) return -1;
    const separator = text.charCodeAt(position);
    if (separator === COMMA) position = skipBlanks(text, position + 1, end);
    else if (separator !== CLOSE_BRACE) return -1;
  }
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

function parseValue(token: string): number | undefined {
  switch (token) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return DECIMAL.test(token) ? Number(token) : undefined;
  }
}

function parseTimestamp(token: string): number | undefined {
  if (!INTEGER.test(token)) return undefined;
  const value = Number(token);
  return Number.isSafeInteger(value) ? value : undefined;
}
