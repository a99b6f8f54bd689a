import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { accessLineWriter, type AccessLogRecord } from '../../../src/telemetry/access-log.js';
import { createLogger } from '../../../src/telemetry/logger.js';

function capture(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

/** The time is the only field that differs between two lines written a moment apart. */
function withoutTime(line: string): string {
  return line.replace(/"time":"[^"]*"/, '"time":"T"');
}

const RECORD = {
  request_id: 'req-"quoted"-\\back\\slash-\ttab-\u0001ctl-é-漢字-🙂',
  method: 'POST',
  route: '/v1/chat/completions',
  key_id: null,
  tenant: 'acme',
  model: 'llama-3-8b',
  failovers: 0,
  status: 200,
  stream: true,
  duration_ms: 5.125,
  ttft_ms: 0.412,
  cost: '0.0000414',
  client_disconnected: false,
  trace_id: null,
} as unknown as AccessLogRecord;

describe('accessLineWriter', () => {
  it("writes exactly the line pino's info() writes for the same record", () => {
    const { lines, destination } = capture();
    const access = createLogger('info', destination).child({ component: 'access' });
    accessLineWriter(access)(RECORD);
    access.info(RECORD, 'request');
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0]!)).toBe(withoutTime(lines[1]!));
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', service: 'tollbooth', component: 'access', msg: 'request', request_id: RECORD.request_id });
  });

  it('respects the logger level', () => {
    const { lines, destination } = capture();
    accessLineWriter(createLogger('warn', destination).child({ component: 'access' }))(RECORD);
    expect(lines).toEqual([]);
  });

  it('leaves a logger that changes its lines (a mixin) to pino', () => {
    const { lines, destination } = capture();
    accessLineWriter(pino({ mixin: () => ({ extra: 1 }) }, destination))(RECORD);
    expect(JSON.parse(lines[0]!)).toMatchObject({ extra: 1, msg: 'request', model: 'llama-3-8b' });
  });
});

describe('the access line time', () => {
  it('is the ISO time of the line, also for lines written in the same millisecond', () => {
    const { lines, destination } = capture();
    const write = accessLineWriter(createLogger('info', destination).child({ component: 'access' }));
    const before = Date.now();
    for (let line = 0; line < 50; line += 1) write(RECORD);
    const after = Date.now();
    for (const line of lines) {
      const time = Date.parse((JSON.parse(line) as { time: string }).time);
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
    }
  });
});
