import type { ServerResponse } from 'node:http';

import type { AdmissionTicket } from './admission.js';
import { nowMs } from './clock.js';
import type { EngineContext } from './engine-context.js';
import { streamErrorFrame } from './errors.js';
import type { FaultPlan } from './faults.js';
import { DONE_FRAME, StreamFramer, type UsageCounts } from './frames.js';
import { sendJson, startEventStream } from './http-io.js';
import type { ModelMetrics } from './metrics.js';
import type { Prng } from './prng.js';
import { llmRequestSpan, type InboundTraceHeaders, type SpanSamplingParams } from './request-span.js';
import { tokenJson } from './tokenizer.js';
import type { TruthOutcome, TruthRecord } from './truth.js';

export type FinishReason = 'stop' | 'length';

/** The tokens one choice will produce, decided before generation starts. */
export interface ChoicePlan {
  index: number;
  tokens: number[];
  finishReason: FinishReason;
}

/** A fully validated generation request; built by the endpoint parsers. */
export interface GenerationSpec {
  kind: 'chat' | 'completion' | 'responses';
  truth: TruthRecord;
  requestId: string;
  model: string;
  stream: boolean;
  responseId: string;
  created: number;
  /** Prompt token ids per prompt, looked up in the prefix cache at admission. */
  prompts: number[][];
  promptTokens: number;
  choices: ChoicePlan[];
  includeUsage: boolean;
  continuousUsage: boolean;
  ttftOverrideMs: number | null;
  itlMs: number;
  fault: FaultPlan;
  prng: Prng;
  /** Non-streaming body, rendered once generation is done. */
  renderBody: (cachedTokens: number) => string;
  /** What the `llm_request` span needs beyond the truth record; null when spans are not exported. */
  trace: { parent: InboundTraceHeaders; sampling: SpanSamplingParams } | null;
}

/**
 * Drives one request through queueing, prefill and decode, writing vLLM-shaped output on the
 * schedule the options describe, and records what actually happened in the ground truth.
 */
export class GenerationRun {
  private readonly truth: TruthRecord;
  private readonly metrics: ModelMetrics;
  private ticket: AdmissionTicket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private framer: StreamFramer | null = null;
  /** Tokens already emitted, per choice. */
  private readonly emitted: number[];
  /** Whether each choice has sent its final chunk. */
  private readonly choiceDone: boolean[];
  private contentChunks = 0;
  private cachedTokens = 0;
  private nextDueAt = 0;
  private lastChunkAt = 0;
  private admittedAt = 0;
  private done = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly res: ServerResponse,
    private readonly spec: GenerationSpec,
  ) {
    this.truth = spec.truth;
    this.metrics = ctx.metrics.forModel(spec.model);
    this.emitted = spec.choices.map(() => 0);
    this.choiceDone = spec.choices.map(() => false);
  }

  start(): void {
    this.res.on('close', this.onClose);
    if (this.spec.fault.hang) return; // Accept and say nothing until the client gives up.
    if (this.spec.stream) {
      startEventStream(this.res, this.spec.requestId, this.truth);
      const choices = this.spec.choices.length;
      const header = { id: this.spec.responseId, created: this.spec.created, model: this.spec.model };
      this.framer = new StreamFramer(this.spec.kind === 'chat' ? 'chat' : 'completion', header, choices, this.spec.continuousUsage);
    }
    this.ticket = this.ctx.admission.acquire(this.spec.model, this.onAdmit);
  }

  private readonly onAdmit = (): void => {
    if (this.done) return;
    const admittedAt = nowMs();
    this.admittedAt = admittedAt;
    this.metrics.queueTime.observe((admittedAt - this.truth.receivedAt) / 1000);
    const cache = this.ctx.prefixCache;
    if (cache !== null) {
      for (const prompt of this.spec.prompts) this.cachedTokens += cache.lookupAndInsert(prompt).cachedTokens;
      this.metrics.prefixQueries.inc(this.spec.promptTokens);
      this.metrics.prefixHits.inc(this.cachedTokens);
    }
    this.truth.cachedPromptTokens = this.cachedTokens;
    // vLLM counts every prompt token here, cached or not; hits show in prefix_cache_hits_total.
    this.metrics.promptTokens.inc(this.spec.promptTokens);
    const { options } = this.ctx;
    const prefillMs =
      this.spec.ttftOverrideMs ?? options.prefillBaseMs + options.prefillPerTokenMs * (this.spec.promptTokens - this.cachedTokens);
    this.schedule(this.spec.stream ? this.firstStreamStep : this.firstNonStreamToken, prefillMs + this.spec.fault.spikeMs);
  };

  /**
   * Runs `callback` after `delayMs`. A delay of exactly 0 (zero prefill, unpaced decode: nothing
   * to wait for) runs on the next turn of the event loop instead, because Node clamps
   * setTimeout(0) to 1 ms: two such steps per request put a ~2 ms floor under every unpaced
   * response, which made the simulator, not the proxy under test, the limit of throughput
   * benchmarks. Computed delays of paced streams (never exactly 0) keep setTimeout as before.
   */
  private schedule(callback: () => void, delayMs: number): void {
    if (delayMs === 0) {
      const immediate = setImmediate(() => {
        this.ctx.immediates.delete(immediate);
        this.immediate = null;
        callback();
      });
      this.immediate = immediate;
      this.ctx.immediates.add(immediate);
      return;
    }
    const timer = setTimeout(() => {
      this.ctx.timers.delete(timer);
      this.timer = null;
      callback();
    }, Math.max(0, delayMs));
    this.timer = timer;
    this.ctx.timers.add(timer);
  }

  private interTokenDelay(): number {
    const jitter = this.ctx.options.interTokenJitterMs;
    return jitter > 0 ? this.spec.itlMs + this.spec.prng.next() * jitter : this.spec.itlMs;
  }

  private usageFor(choiceIndex: number): UsageCounts | null {
    if (!this.spec.continuousUsage) return null;
    return { promptTokens: this.spec.promptTokens, completionTokens: this.emitted[choiceIndex] ?? 0, cachedTokens: null };
  }

  private totalCompletionTokens(): number {
    let total = 0;
    for (const count of this.emitted) total += count;
    return total;
  }

  // ---- non-streaming ----

  private readonly firstNonStreamToken = (): void => {
    if (this.done) return;
    const now = nowMs();
    this.truth.firstTokenAt = now;
    this.metrics.ttft.observe((now - this.truth.receivedAt) / 1000);
    let longest = 0;
    for (const choice of this.spec.choices) longest = Math.max(longest, choice.tokens.length);
    let decodeMs = 0;
    for (let i = 1; i < longest; i++) decodeMs += this.interTokenDelay();
    this.schedule(this.finishNonStream, decodeMs);
  };

  private readonly finishNonStream = (): void => {
    if (this.done) return;
    const { fault } = this.spec;
    for (let i = 0; i < this.spec.choices.length; i++) this.emitted[i] = this.spec.choices[i]?.tokens.length ?? 0;
    this.truth.completionTokens = this.totalCompletionTokens();
    if (fault.disconnectAfterChunks !== null) {
      this.dropConnection();
      return;
    }
    if (fault.hangAfterChunks !== null) {
      startEventStream(this.res, this.spec.requestId, this.truth); // headers, then silence
      return;
    }
    if (fault.streamErrorAfterChunks !== null) {
      this.finish('fault', null);
      sendJson(this.res, 500, this.streamErrorBody(), this.spec.requestId, this.truth);
      return;
    }
    this.truth.finishReason = this.spec.choices[0]?.finishReason ?? null;
    sendJson(this.res, 200, this.spec.renderBody(this.cachedTokens), this.spec.requestId, this.truth);
    this.finish('completed', this.truth.finishReason);
  };

  private streamErrorBody(): string {
    return streamErrorFrame(this.ctx.options.errorStyle, 'Simulated engine failure (x-sim-fault: stream-error)', 500)
      .slice('data: '.length)
      .trimEnd();
  }

  // ---- streaming ----

  private readonly firstStreamStep = (): void => {
    if (this.done || this.framer === null) return;
    const now = nowMs();
    this.nextDueAt = now;
    for (const choice of this.spec.choices) {
      const frame = this.framer.roleChunk(choice.index, this.usageFor(choice.index));
      if (frame !== null) this.res.write(frame);
    }
    this.streamStep();
  };

  /** Writes one chunk per unfinished choice; repeats synchronously when unpaced. */
  private readonly streamStep = (): void => {
    const unpaced = this.spec.itlMs === 0 && this.ctx.options.interTokenJitterMs === 0;
    do {
      if (this.done) return;
      if (this.applyChunkFaults()) return;
      if (this.res.writableNeedDrain) {
        // Backpressure: the client reads slower than we generate; resume when the socket drains.
        this.res.once('drain', this.streamStep);
        return;
      }
      if (this.writeChunks()) {
        this.endStream();
        return;
      }
    } while (unpaced);
    this.nextDueAt += this.interTokenDelay();
    this.schedule(this.streamStep, this.nextDueAt - nowMs());
  };

  /** Returns true when every choice has sent its final chunk. */
  private writeChunks(): boolean {
    const framer = this.framer as StreamFramer;
    const perChunk = this.ctx.options.tokensPerChunk;
    let allDone = true;
    for (const choice of this.spec.choices) {
      const i = choice.index;
      if (this.choiceDone[i] === true) continue;
      const from = this.emitted[i] as number;
      const total = choice.tokens.length;
      const to = Math.min(total, from + perChunk);
      let text = '';
      for (let t = from; t < to; t++) text += tokenJson(choice.tokens[t] as number);
      this.emitted[i] = to;
      const isLast = to >= total;
      const usage = this.usageFor(i);
      const frame = isLast ? framer.final(i, text, choice.finishReason, usage) : framer.content(i, text, usage);
      this.recordChunk(to - from);
      this.res.write(frame);
      if (isLast) this.choiceDone[i] = true;
      else allDone = false;
    }
    return allDone;
  }

  private recordChunk(tokens: number): void {
    const now = nowMs();
    const truth = this.truth;
    if (truth.firstTokenAt === null) {
      truth.firstTokenAt = now;
      this.metrics.ttft.observe((now - truth.receivedAt) / 1000);
    } else if (tokens > 0) {
      const perToken = (now - this.lastChunkAt) / 1000 / tokens;
      for (let k = 0; k < tokens; k++) this.metrics.interToken.observe(perToken);
    }
    this.lastChunkAt = now;
    truth.chunkTimes.push(now);
    truth.tokensPerChunkWritten.push(tokens);
    truth.completionTokens += tokens;
    this.contentChunks++;
  }

  /** Checks the chunk-count faults before the next chunk. Returns true when it took over. */
  private applyChunkFaults(): boolean {
    const { fault } = this.spec;
    const sent = this.contentChunks;
    if (fault.disconnectAfterChunks !== null && sent >= fault.disconnectAfterChunks) {
      this.dropConnection();
      return true;
    }
    if (fault.streamErrorAfterChunks !== null && sent >= fault.streamErrorAfterChunks) {
      this.finish('fault', null);
      this.res.end(streamErrorFrame(this.ctx.options.errorStyle, 'Simulated engine failure (x-sim-fault: stream-error)', 500) + DONE_FRAME);
      return true;
    }
    if (fault.hangAfterChunks !== null && sent >= fault.hangAfterChunks) {
      return true; // Stall: no timer, no end. The close handler cleans up when the client leaves.
    }
    return false;
  }

  private endStream(): void {
    const framer = this.framer as StreamFramer;
    this.truth.finishReason = this.spec.choices[0]?.finishReason ?? null;
    if (this.spec.includeUsage) {
      const cached = this.ctx.options.reportCachedTokens ? this.cachedTokens : null;
      this.res.write(
        framer.usage({ promptTokens: this.spec.promptTokens, completionTokens: this.totalCompletionTokens(), cachedTokens: cached }),
      );
    }
    this.res.end(DONE_FRAME);
    this.finish('completed', this.truth.finishReason);
  }

  // ---- endings ----

  private dropConnection(): void {
    this.finish('fault', null);
    this.res.socket?.destroy();
  }

  private finish(outcome: TruthOutcome, finishedReason: string | null): void {
    if (this.done) return;
    this.done = true;
    const now = nowMs();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.ctx.timers.delete(this.timer);
      this.timer = null;
    }
    if (this.immediate !== null) {
      clearImmediate(this.immediate);
      this.ctx.immediates.delete(this.immediate);
      this.immediate = null;
    }
    if (this.ticket !== null) this.ctx.admission.release(this.ticket);
    this.ctx.truth.finish(this.truth, outcome, now);
    const generated = this.truth.completionTokens;
    this.metrics.generationTokens.inc(generated);
    if (outcome === 'completed' && finishedReason !== null) {
      const e2eSeconds = (now - this.truth.receivedAt) / 1000;
      this.metrics.e2e.observe(e2eSeconds);
      this.metrics.requestPromptTokens.observe(this.spec.promptTokens);
      this.metrics.requestGenerationTokens.observe(generated);
      if (generated > 1 && this.truth.firstTokenAt !== null) {
        this.metrics.timePerOutputToken.observe((now - this.truth.firstTokenAt) / 1000 / (generated - 1));
      }
      this.metrics.success(finishedReason).inc();
      this.exportSpan(now);
    } else if (outcome === 'client_closed') {
      this.metrics.success('abort').inc();
    }
  }

  /** vLLM traces requests that finish generating (stop or length); aborted and failed ones get no span. */
  private exportSpan(finishedAt: number): void {
    const exporter = this.ctx.requestSpans;
    const trace = this.spec.trace;
    const truth = this.truth;
    if (exporter === null || trace === null || truth.firstTokenAt === null) return;
    const span = llmRequestSpan({
      responseId: this.spec.responseId,
      receivedAt: truth.receivedAt,
      admittedAt: this.admittedAt,
      firstTokenAt: truth.firstTokenAt,
      // Streams: the last content chunk; a non-streaming body is written when its last token is due.
      lastTokenAt: truth.chunkTimes.at(-1) ?? finishedAt,
      finishedAt,
      promptTokens: this.spec.promptTokens,
      completionTokens: truth.completionTokens,
      sampling: trace.sampling,
    });
    exporter.export(span, trace.parent);
  }

  private readonly onClose = (): void => {
    if (this.done) return;
    if (this.res.writableFinished) return;
    this.truth.clientClosedAt = nowMs();
    this.finish('client_closed', null);
    // The client may only have half-closed; without this the socket lingers half-open forever.
    this.res.socket?.destroy();
  };
}
