/**
 * A load balancer in front of several gateway instances, modelled in the client as a `fetch` for
 * the OpenAI SDK: each request goes to the next live instance in turn, and is sent again to
 * another one when it failed before any response header arrived — the connection was refused or
 * dropped (an instance killed or closing), or the instance answered 503 `shutting_down` (it is
 * draining). That is what a Kubernetes Service behind an ingress or a service mesh does with
 * `retry_on: connect-failure,reset` and a retriable 503. An instance that refused a connection
 * leaves the rotation (passive health checking); the orchestrator adds and removes instances as
 * their readiness changes. Once response headers have arrived nothing is retried: a stream cut
 * after that reaches the client as the error it is.
 */
export interface Backend {
  /** Names the process (e.g. `gw1#2`: instance 1, second start). */
  readonly id: string;
  /** http://127.0.0.1:port */
  readonly origin: string;
}

export interface LoadBalancerCounts {
  /** Attempts sent again to another instance, by reason. */
  readonly retries: Record<'connection' | 'shutting_down', number>;
  /** Requests that ran out of attempts (every one of them failed before response headers). */
  readonly exhausted: number;
}

const MAX_ATTEMPTS = 8;
/** With no live instance (all restarting at once), how long to wait before looking again. */
const EMPTY_POOL_WAIT_MS = 100;

export class ClientLoadBalancer {
  private pool: Backend[] = [];
  private turn = 0;
  private readonly servedBy = new Map<string, Backend>();
  private readonly retries = { connection: 0, shutting_down: 0 };
  private exhausted = 0;

  add(backend: Backend): void {
    this.pool = [...this.pool.filter((member) => member.id !== backend.id), backend];
  }

  remove(id: string): void {
    this.pool = this.pool.filter((member) => member.id !== id);
  }

  /** The instance whose response headers the client got for the request with this x-request-id. */
  backendOf(requestId: string): Backend | undefined {
    return this.servedBy.get(requestId);
  }

  counts(): LoadBalancerCounts {
    return { retries: { ...this.retries }, exhausted: this.exhausted };
  }

  /** A `fetch` for `new OpenAI({ fetch })`: the base URL's origin is replaced by the chosen instance's. */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const requestId = new Headers(init?.headers).get('x-request-id') ?? '';
    const tried = new Set<string>();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const backend = this.pick(tried);
      if (backend === undefined) {
        // Every live instance was tried for this request: start over after a pause.
        tried.clear();
        await new Promise((wake) => setTimeout(wake, EMPTY_POOL_WAIT_MS));
        continue;
      }
      tried.add(backend.id);
      const target = new URL(url.pathname + url.search, backend.origin);
      let response: Response;
      try {
        response = await fetch(target, init);
      } catch (error) {
        if (/ECONNREFUSED/.test(String((error as { cause?: { code?: string } }).cause?.code))) this.remove(backend.id);
        this.retries.connection += 1;
        continue;
      }
      if (response.status === 503) {
        const text = await response.text();
        if (/"code":"shutting_down"/.test(text)) {
          this.retries.shutting_down += 1;
          continue;
        }
        this.servedBy.set(requestId, backend);
        return new Response(text, { status: response.status, headers: response.headers });
      }
      this.servedBy.set(requestId, backend);
      return response;
    }
    this.exhausted += 1;
    throw new Error(`load balancer: no instance answered ${requestId} in ${MAX_ATTEMPTS} attempts`);
  };

  private pick(tried: ReadonlySet<string>): Backend | undefined {
    const candidates = this.pool.filter((member) => !tried.has(member.id));
    if (candidates.length === 0) return undefined;
    this.turn = (this.turn + 1) % 1_000_000;
    return candidates[this.turn % candidates.length];
  }
}
