import { describe, expect, it } from 'vitest';

import { Admission } from '../../../src/sim/admission.js';
import { GroundTruth, newTruthRecord, type TruthRecord } from '../../../src/sim/truth.js';

function record(requestId: string): TruthRecord {
  return { ...newTruthRecord(requestId, '/v1/chat/completions', 0), model: 'm', stream: true };
}

describe('GroundTruth', () => {
  it('resolves waitFor on finish, keeps the first outcome, and times out', async () => {
    const truth = new GroundTruth(10);
    const r = truth.begin(record('a'));
    const waiting = truth.waitFor('a', 1000);
    truth.finish(r, 'completed', 5);
    truth.finish(r, 'client_closed', 6);
    await expect(waiting).resolves.toMatchObject({ outcome: 'completed', finishedAt: 5 });
    await expect(truth.waitFor('a', 10)).resolves.toBe(r);
    await expect(truth.waitFor('never', 20)).rejects.toThrow(/not finished/);
  });

  it('waits for a request that has not arrived yet', async () => {
    const truth = new GroundTruth(10);
    const waiting = truth.waitFor('later', 1000);
    const r = truth.begin(record('later'));
    truth.finish(r, 'fault', 1);
    await expect(waiting).resolves.toMatchObject({ outcome: 'fault' });
  });

  it('evicts the oldest records beyond capacity', () => {
    const truth = new GroundTruth(2);
    truth.begin(record('1'));
    truth.begin(record('2'));
    truth.begin(record('3'));
    expect(truth.get('1')).toBeUndefined();
    expect(truth.all().map((r) => r.requestId)).toEqual(['2', '3']);
    truth.clear();
    expect(truth.all()).toEqual([]);
  });
});

describe('Admission', () => {
  it('runs at most maxRunning and admits waiters in FIFO order, skipping withdrawn ones', () => {
    const admission = new Admission(1);
    const order: string[] = [];
    const a = admission.acquire('m', () => order.push('a'));
    const b = admission.acquire('m', () => order.push('b'));
    const c = admission.acquire('m', () => order.push('c'));
    expect(admission.running('m')).toBe(1);
    expect(admission.waiting('m')).toBe(2);
    admission.release(b); // withdrawn while waiting
    admission.release(a);
    expect(order).toEqual(['a', 'c']);
    expect(admission.waiting('m')).toBe(0);
    admission.release(c);
    admission.release(c);
    expect(admission.running('m')).toBe(0);
  });
});
