import { describe, expect, it } from 'vitest';
import {
  MetricNameFilter,
  parsePrometheusText,
  scanPrometheusText,
  type PrometheusSample,
} from '../../../src/routing/prometheus-text.js';

function samples(text: string, names?: string[]): PrometheusSample[] {
  return parsePrometheusText(text, names === undefined ? {} : { names }).sampleList;
}

describe('parsePrometheusText', () => {
  it('reads names, labels, values and timestamps, ignoring HELP/TYPE/comments and blank lines', () => {
    const text = [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      '   ',
      '# a free comment',
      'metric_without_timestamp_and_labels 12.47',
      'vllm:num_requests_running{engine="0",model_name="m"} 2.0',
      '',
    ].join('\n');
    const result = parsePrometheusText(text);
    expect(result.malformed).toBe(0);
    expect(result.samples).toBe(4);
    expect(result.sampleList.map((s) => [s.name, { ...s.labels }, s.value, s.timestamp])).toEqual([
      ['http_requests_total', { method: 'post', code: '200' }, 1027, 1395066363000],
      ['http_requests_total', { method: 'post', code: '400' }, 3, 1395066363000],
      ['metric_without_timestamp_and_labels', {}, 12.47, undefined],
      ['vllm:num_requests_running', { engine: '0', model_name: 'm' }, 2, undefined],
    ]);
  });

  it('unescapes \\\\, \\" and \\n in label values', () => {
    const [sample] = samples('msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9');
    expect(sample?.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(sample?.value).toBe(1458255915);
  });

  it('keeps commas, braces, spaces and = inside quoted label values', () => {
    const [sample] = samples('x{a="1,2}",b="k=v w"} 5');
    expect(sample?.labels).toEqual({ a: '1,2}', b: 'k=v w' });
  });

  it('reads NaN, +Inf, -Inf and signed/exponent numbers', () => {
    const values = samples(['a NaN', 'b +Inf', 'c -Inf', 'd -1.5e-3', 'e +2', 'f .5', 'g 1.', 'h 0'].join('\n')).map((s) => s.value);
    expect(values[0]).toBeNaN();
    expect(values.slice(1)).toEqual([Infinity, -Infinity, -0.0015, 2, 0.5, 1, 0]);
  });

  it('accepts CRLF, tabs, leading blanks, a trailing comma and blanks inside the label set', () => {
    const text = '# TYPE a gauge\r\na{x="1",} 1\r\n\tb { x = "2" , y="3" }\t2\t  17\r\n\r\n  c 3\r\n';
    const result = parsePrometheusText(text);
    expect(result.malformed).toBe(0);
    expect(result.sampleList.map((s) => [s.name, { ...s.labels }, s.value, s.timestamp])).toEqual([
      ['a', { x: '1' }, 1, undefined],
      ['b', { x: '2', y: '3' }, 2, 17],
      ['c', {}, 3, undefined],
    ]);
  });

  it('handles a last line without a newline, and empty input', () => {
    expect(samples('a 1\nb 2').map((s) => s.value)).toEqual([1, 2]);
    expect(parsePrometheusText('')).toMatchObject({ samples: 0, malformed: 0, skipped: 0, sampleList: [] });
    expect(parsePrometheusText('\n\r\n\n')).toMatchObject({ samples: 0, malformed: 0 });
  });

  it('treats label names such as __proto__ as plain keys', () => {
    const [sample] = samples('x{__proto__="p",constructor="c"} 1');
    expect(Object.keys(sample!.labels)).toEqual(['__proto__', 'constructor']);
    expect(sample!.labels['__proto__']).toBe('p');
    expect(Object.getPrototypeOf(sample!.labels)).toBeNull();
  });

  it('skips and counts malformed lines without throwing, and keeps parsing after them', () => {
    const bad = [
      'no_value',
      'no_value{a="1"}',
      'bad_value 1.2.3',
      'bad_value2 0x10',
      'bad_value3 abc',
      'inf_lowercase inf',
      'unclosed{a="1" 2',
      'unterminated{a="1} 2',
      'no_quotes{a=1} 2',
      'no_equals{a"1"} 2',
      'bad_label_name{1a="x"} 2',
      'colon_label{a:b="x"} 2',
      'duplicate{a="1",a="2"} 2',
      'bad_escape{a="\\t"} 2',
      'dangling_escape{a="\\',
      'missing_comma{a="1" b="2"} 2',
      'float_timestamp 1 1.5',
      'extra_tokens 1 2 3',
      'glued{a="1"}2',
      '{a="1"} 2',
      '9starts_with_digit 1',
      'é 1',
      '-',
    ];
    const text = ['ok_before 1', ...bad, 'ok_after 2'].join('\n');
    const result = parsePrometheusText(text);
    expect(result.malformed).toBe(bad.length);
    expect(result.firstMalformedLine).toBe(2);
    expect(result.sampleList.map((s) => s.name)).toEqual(['ok_before', 'ok_after']);
  });

  it('is not fooled by binary garbage or a huge line', () => {
    const garbage = String.fromCharCode(...Array.from({ length: 512 }, (_, i) => (i * 7919) % 65536));
    expect(() => parsePrometheusText(garbage)).not.toThrow();
    const long = `big{a="${'x'.repeat(200_000)}"} 1`;
    expect(samples(long)[0]?.labels['a']?.length).toBe(200_000);
  });
});

describe('name filtering', () => {
  const page = [
    '# HELP wanted A wanted gauge.',
    '# TYPE wanted gauge',
    'wanted{m="a"} 1',
    'wanted_bucket{le="1"} 5',
    'unwanted{this is not even valid 7',
    'wante 3',
    'wanted{m="b"} 2',
    'wanted{broken 9',
  ].join('\n');

  it('parses only wanted names (exact match) and counts the rest as skipped, unvalidated', () => {
    const result = parsePrometheusText(page, { names: ['wanted'] });
    expect(result.sampleList.map((s) => [s.labels['m'], s.value])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(result.skipped).toBe(3);
    expect(result.malformed).toBe(1); // only the wanted broken line
    expect(result.firstMalformedLine).toBe(8);
  });

  it('can reuse one filter across scans, with a visitor', () => {
    const filter = new MetricNameFilter(['wanted_bucket', 'wante']);
    const seen: string[] = [];
    const result = scanPrometheusText(page, (s) => seen.push(`${s.name}=${s.value}`), filter);
    expect(seen).toEqual(['wanted_bucket=5', 'wante=3']);
    expect(result).toEqual({ samples: 2, skipped: 4, malformed: 0, firstMalformedLine: undefined });
    expect(scanPrometheusText(page, () => undefined, filter).samples).toBe(2);
  });

  it('an empty filter parses nothing', () => {
    expect(parsePrometheusText(page, { names: [] })).toMatchObject({ samples: 0, malformed: 0, skipped: 6 });
  });

  it('skips unwanted lines of a large page without parsing their labels', () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i += 1) lines.push(`vllm:time_to_first_token_seconds_bucket{engine="0",le="${i}",model_name="m"} ${i}`);
    lines.push('vllm:num_requests_waiting{engine="0",model_name="m"} 4');
    const result = parsePrometheusText(lines.join('\n'), { names: ['vllm:num_requests_waiting'] });
    expect(result.sampleList.map((s) => s.value)).toEqual([4]);
    expect(result.skipped).toBe(20_000);
  });
});
