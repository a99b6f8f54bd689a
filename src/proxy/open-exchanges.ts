/** An exchange the drain deadline can end on purpose (see UpstreamExchange.endForDrain). */
export interface DrainableExchange {
  /** Ends the response now, in the way its client can still understand; its response then closes. */
  endForDrain(): void;
}

/**
 * The upstream exchanges of one gateway that are still answering their clients. An exchange
 * joins when it is dispatched and leaves when its client response closes (after the request's
 * telemetry was queued), so the drain deadline can end each one deliberately and wait for its
 * access-log line, metrics and rate-limit settlement instead of cutting sockets.
 */
export class OpenExchanges {
  private readonly open = new Set<DrainableExchange>();
  private onEmpty: (() => void) | undefined;

  get size(): number {
    return this.open.size;
  }

  add(exchange: DrainableExchange): void {
    this.open.add(exchange);
  }

  delete(exchange: DrainableExchange): void {
    if (!this.open.delete(exchange) || this.open.size > 0) return;
    this.onEmpty?.();
  }

  /**
   * Ends every open exchange and resolves with how many it ended, once each response has closed
   * and the telemetry queued on that close has run, or after `timeoutMs` (a client that reads
   * nothing keeps its response from finishing; the caller then destroys the socket).
   */
  async endAll(timeoutMs: number): Promise<number> {
    const ending = [...this.open];
    if (ending.length > 0) {
      const closed = new Promise<void>((resolve) => {
        this.onEmpty = resolve;
      });
      for (const exchange of ending) exchange.endForDrain();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      if (this.open.size > 0) await Promise.race([closed, timedOut]);
      clearTimeout(timer);
      this.onEmpty = undefined;
    }
    // Telemetry completes in a microtask queued by the response's close; one turn lets the
    // settlements it started be sent before the caller closes the stores.
    await new Promise((resolve) => setImmediate(resolve));
    return ending.length;
  }
}
