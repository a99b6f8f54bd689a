import type { AnomalyConfig } from './config.js';
import { createDetector, type Detector, type Judgement, SeasonalDetector } from './detectors.js';
import { type AnomalySignal, SIGNAL_SPECS, type SignalSpec } from './signals.js';

export type ScopeKind = 'model' | 'replica';

export interface ScopeRef {
  readonly kind: ScopeKind;
  readonly name: string;
}

export interface SlotObservation {
  readonly scope: ScopeRef;
  readonly signal: AnomalySignal;
  /** In the signal's unit (seconds, ratio, requests per second…). */
  readonly value: number;
}

/** Something that moved: a signal of one model or replica, out of band for at least confirmSlots slots. */
export interface Finding {
  readonly id: string;
  readonly signal: AnomalySignal;
  readonly scope: ScopeKind;
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** warning: the signal moved the way that hurts (TTFT up, decode speed down…); info: the other way, or demand. */
  readonly severity: 'info' | 'warning';
  readonly unit: SignalSpec['unit'];
  /** The last judged slot's value and the detector's baseline, in the unit. */
  readonly value: number;
  readonly baseline: number;
  /** value − baseline, in the unit. */
  readonly change: number;
  /** Its distance from the baseline in σ at the last judged slot, and the largest so far (signed). */
  readonly sigma: number;
  readonly peakSigma: number;
  /** Start of the first out-of-band slot of the run. */
  readonly sinceMs: number;
  /** End of the last out-of-band slot. */
  readonly lastOutOfBandMs: number;
  /** End of the slot that resolved it; undefined while active. */
  readonly resolvedAtMs: number | undefined;
  /** The baseline was the hour-of-day profile. */
  readonly seasonal: boolean;
}

/** Active findings that started within the correlation window of each other and share a scope or a model. */
export interface Incident {
  readonly id: string;
  readonly sinceMs: number;
  readonly severity: 'info' | 'warning';
  readonly findings: readonly Finding[];
}

export interface FindingChange {
  readonly finding: Finding;
  readonly change: 'started' | 'resolved';
}

export type MonitorSettings = Omit<AnomalyConfig, 'enabled' | 'sampleIntervalMs'>;

interface Track {
  readonly signal: AnomalySignal;
  readonly scope: ScopeRef;
  readonly detector: Detector;
  /** Consecutive out-of-band slots in `runDirection`, and when the run started. */
  outOfBandRun: number;
  runDirection: 'up' | 'down';
  runStartMs: number;
  /** Consecutive calm or empty slots while a finding is active. */
  calmRun: number;
  finding: Finding | undefined;
  observedThisSlot: boolean;
}

/**
 * The findings of every signal × scope from the slots the runner hands it. Pure: no clock, no I/O.
 * Memory: one fixed-size track per signal × scope for at most `maxScopes` scopes (further scopes
 * are counted and ignored), plus at most `recentFindings` resolved findings.
 */
export class AnomalyMonitor {
  private readonly tracks = new Map<string, Track>();
  private readonly scopes = new Map<string, ScopeRef>();
  private readonly resolved: Finding[] = [];
  private servedModels: ReadonlyMap<string, readonly string[]> = new Map();
  private findingSeq = 0;
  private readonly droppedScopes = new Set<string>();
  private lastSlotEndMs: number | undefined;

  constructor(
    private readonly settings: MonitorSettings,
    private readonly slotMs: number,
  ) {}

  /**
   * Judges one closed slot. `servedModels` maps each replica to the models it serves (it links a
   * replica's findings to its model's in incidents). Returns the findings that started or resolved.
   */
  observeSlot(slotStartMs: number, observations: readonly SlotObservation[], servedModels?: ReadonlyMap<string, readonly string[]>): FindingChange[] {
    if (servedModels !== undefined) this.servedModels = servedModels;
    const slotEndMs = slotStartMs + this.slotMs;
    this.lastSlotEndMs = slotEndMs;
    const changes: FindingChange[] = [];
    for (const track of this.tracks.values()) track.observedThisSlot = false;
    for (const observation of observations) {
      if (!Number.isFinite(observation.value)) continue;
      const track = this.trackOf(observation.scope, observation.signal);
      if (track === undefined) continue;
      track.observedThisSlot = true;
      const spec = SIGNAL_SPECS[track.signal];
      const judgement = track.detector.observe(spec.transform(observation.value), slotStartMs);
      changes.push(...this.judge(track, spec, judgement, observation.value, slotStartMs, slotEndMs));
    }
    // A series with no value this slot (no traffic, no engine figures) counts as calm: a replica
    // that stopped getting requests does not keep its TTFT finding forever.
    for (const track of this.tracks.values()) {
      if (track.observedThisSlot) continue;
      track.outOfBandRun = 0;
      const change = this.calm(track, slotEndMs);
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }

  /** Forgets the tracks of scopes no longer in the fleet (a replica removed by a reload). */
  retainScopes(scopes: readonly ScopeRef[]): void {
    const keep = new Set(scopes.map(scopeKey));
    for (const [key, track] of this.tracks) if (!keep.has(scopeKey(track.scope))) this.tracks.delete(key);
    for (const key of this.scopes.keys()) if (!keep.has(key)) this.scopes.delete(key);
    for (const key of this.droppedScopes) if (!keep.has(key)) this.droppedScopes.delete(key);
  }

  active(): Finding[] {
    const findings: Finding[] = [];
    for (const track of this.tracks.values()) if (track.finding !== undefined) findings.push(track.finding);
    return findings.sort((a, b) => a.sinceMs - b.sinceMs || compare(a.id, b.id));
  }

  /** Resolved findings, newest first. */
  recent(): readonly Finding[] {
    return [...this.resolved].reverse();
  }

  /** Every tracked signal × scope and whether it has an active finding (the gauge's series). */
  tracked(): Array<{ signal: AnomalySignal; scope: ScopeRef; active: boolean }> {
    return [...this.tracks.values()].map((track) => ({ signal: track.signal, scope: track.scope, active: track.finding !== undefined }));
  }

  get trackCount(): number {
    return this.tracks.size;
  }

  get scopesDropped(): number {
    return this.droppedScopes.size;
  }

  get lastSlotEnd(): number | undefined {
    return this.lastSlotEndMs;
  }

  /**
   * Groups the active findings into incidents: two findings belong together when they started
   * within `correlationWindowMs` of each other and concern the same scope, a replica and a model
   * it serves, or two replicas serving a common model (single linkage, so a chain is one incident).
   */
  incidents(): Incident[] {
    const findings = this.active();
    const parent = findings.map((_, index) => index);
    const root = (index: number): number => {
      while (parent[index] !== index) index = parent[index] = parent[parent[index]!]!;
      return index;
    };
    for (let i = 0; i < findings.length; i++) {
      for (let j = i + 1; j < findings.length; j++) {
        const a = findings[i]!;
        const b = findings[j]!;
        if (Math.abs(a.sinceMs - b.sinceMs) <= this.settings.correlationWindowMs && this.linked(a, b)) parent[root(j)] = root(i);
      }
    }
    const groups = new Map<number, Finding[]>();
    findings.forEach((finding, index) => {
      const key = root(index);
      groups.set(key, [...(groups.get(key) ?? []), finding]);
    });
    return [...groups.values()].map((members) => ({
      id: `incident-${members[0]!.id}`,
      sinceMs: Math.min(...members.map((finding) => finding.sinceMs)),
      severity: members.some((finding) => finding.severity === 'warning') ? 'warning' : 'info',
      findings: members,
    }));
  }

  private linked(a: Finding, b: Finding): boolean {
    if (a.scope === b.scope && a.name === b.name) return true;
    const modelsOf = (finding: Finding): readonly string[] =>
      finding.scope === 'model' ? [finding.name] : (this.servedModels.get(finding.name) ?? []);
    if (a.scope === 'model' && b.scope === 'model') return false;
    const left = modelsOf(a);
    return modelsOf(b).some((model) => left.includes(model));
  }

  private trackOf(scope: ScopeRef, signal: AnomalySignal): Track | undefined {
    const key = `${signal}\u0000${scopeKey(scope)}`;
    const existing = this.tracks.get(key);
    if (existing !== undefined) return existing;
    const scopeId = scopeKey(scope);
    if (!this.scopes.has(scopeId)) {
      if (this.scopes.size >= this.settings.maxScopes) {
        this.droppedScopes.add(scopeId);
        return undefined;
      }
      this.scopes.set(scopeId, scope);
    }
    const track: Track = {
      signal,
      scope,
      detector: this.detectorFor(signal),
      outOfBandRun: 0,
      runDirection: 'up',
      runStartMs: 0,
      calmRun: 0,
      finding: undefined,
      observedThisSlot: false,
    };
    this.tracks.set(key, track);
    return track;
  }

  private detectorFor(signal: AnomalySignal): Detector {
    const floor = SIGNAL_SPECS[signal].scaleFloor;
    const make = (): Detector => createDetector(this.settings.detector, this.settings, floor);
    if (!this.settings.seasonal.enabled) return make();
    return new SeasonalDetector(make, this.settings.seasonal, 3_600_000 / this.slotMs);
  }

  private judge(track: Track, spec: SignalSpec, judgement: Judgement, value: number, slotStartMs: number, slotEndMs: number): FindingChange[] {
    const changes: FindingChange[] = [];
    if (!judgement.outOfBand) {
      track.outOfBandRun = 0;
      const change = this.calm(track, slotEndMs);
      return change === undefined ? changes : [change];
    }
    const direction = judgement.sigma >= 0 ? 'up' : 'down';
    if (track.outOfBandRun === 0 || direction !== track.runDirection) {
      track.outOfBandRun = 0;
      track.runDirection = direction;
      track.runStartMs = slotStartMs;
    }
    track.outOfBandRun += 1;
    // A direction flip (a queue that drained below its old level) ends the finding; a new run begins.
    if (track.finding !== undefined && track.finding.direction !== direction) changes.push(this.resolve(track, slotStartMs));
    const baseline = spec.inverse(judgement.baseline);
    const facts = {
      value,
      baseline,
      change: value - baseline,
      sigma: judgement.sigma,
      lastOutOfBandMs: slotEndMs,
      seasonal: track.detector instanceof SeasonalDetector && track.detector.seasonal,
    };
    if (track.finding !== undefined) {
      track.calmRun = 0;
      const peakSigma = Math.abs(judgement.sigma) > Math.abs(track.finding.peakSigma) ? judgement.sigma : track.finding.peakSigma;
      track.finding = { ...track.finding, ...facts, peakSigma };
      return changes;
    }
    if (track.outOfBandRun < this.settings.confirmSlots) return changes;
    this.findingSeq += 1;
    track.calmRun = 0;
    track.finding = {
      id: `${track.signal}:${track.scope.kind}:${track.scope.name}:${this.findingSeq}`,
      signal: track.signal,
      scope: track.scope.kind,
      name: track.scope.name,
      direction,
      severity: spec.worse === direction ? 'warning' : 'info',
      unit: spec.unit,
      ...facts,
      peakSigma: judgement.sigma,
      sinceMs: track.runStartMs,
      resolvedAtMs: undefined,
    };
    changes.push({ finding: track.finding, change: 'started' });
    return changes;
  }

  private calm(track: Track, slotEndMs: number): FindingChange | undefined {
    if (track.finding === undefined) return undefined;
    track.calmRun += 1;
    if (track.calmRun < this.settings.clearSlots) return undefined;
    return this.resolve(track, slotEndMs);
  }

  private resolve(track: Track, atMs: number): FindingChange {
    const finding: Finding = { ...track.finding!, resolvedAtMs: atMs };
    track.finding = undefined;
    track.calmRun = 0;
    if (this.settings.recentFindings > 0) {
      this.resolved.push(finding);
      if (this.resolved.length > this.settings.recentFindings) this.resolved.shift();
    }
    return { finding, change: 'resolved' };
  }
}

function scopeKey(scope: ScopeRef): string {
  return `${scope.kind}:${scope.name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
