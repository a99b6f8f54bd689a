import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

/**
 * A context manager without async propagation: `with` makes a context active for the synchronous
 * extent of its callback, and nothing follows callbacks, promises or timers.
 *
 * Why not the SDK's AsyncLocalStorage manager: on Node 20 an AsyncLocalStorage, once used, turns
 * on async_hooks for the whole process, so every async resource (a socket write of every relayed
 * chunk included) runs an init hook. That is per-chunk work the gateway does not need: its own
 * spans take their parents explicitly from the observation. What it gives up: a library call made
 * after an asynchronous hop inside a request (a Redis command after the body was read) is not
 * parented on the request, and the ioredis instrumentation (requireParentSpan) then records
 * nothing rather than an orphan. The rate limiter's store time is still in the trace, as the
 * `rate_limit` span built from the observation.
 */
export class SynchronousContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
