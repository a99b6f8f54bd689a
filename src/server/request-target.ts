import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * The request-target check, run on every request before anything else looks at its path. The
 * gateway routes on one reading of the path (fastify's router decodes percent escapes and drops
 * an absolute-form scheme and host) and forwards the target as sent to a replica that reads it
 * again (Starlette decodes, some servers and proxies resolve dot segments, merge slashes or treat
 * "\" as "/"). Any target on which two readers could disagree about the path is refused, so the
 * path that was routed and allow-listed is the path the replica serves.
 *
 * Refused, with the reason returned:
 *   - anything but origin-form ("/…"): absolute-form ("http://host/v1/x"), authority-form, "*";
 *   - "." and ".." segments, raw or percent-encoded in any case ("%2e", "%2E%2e");
 *   - encoded "/" and "\" ("%2f", "%5c"), and "%25": an encoded "%" exists only to be decoded
 *     twice ("%252e"), which is how a second reader is made to see a dot or a slash;
 *   - a malformed escape ("%zz", "%2"), which readers repair in different ways;
 *   - a raw "\", which some servers read as "/";
 *   - empty segments ("//"): nginx and others merge them by default, fastify and Starlette do not,
 *     and no OpenAI or vLLM route has one, so refusing costs no client anything while merging
 *     would mean forwarding a path other than the one sent;
 *   - "#" in the path: a fragment is never part of a request target, and routers disagree about
 *     where it ends the path.
 * The query string (after the first "?") is not the path: it is kept and forwarded as sent.
 */
export function requestTargetProblem(target: string): string | undefined {
  if (!target.startsWith('/')) return 'the request target must be a path starting with "/" (origin-form)';
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  for (let index = 0; index < path.length; index++) {
    const char = path[index];
    if (char === '\\') return 'the path must not contain "\\"';
    if (char === '#') return 'the path must not contain "#"';
    if (char === '/') {
      if (path[index + 1] === '/') return 'the path must not contain empty segments ("//")';
      if (isDotSegmentAt(path, index + 1)) return 'the path must not contain "." or ".." segments';
    }
    if (char === '%') {
      const escaped = path.slice(index + 1, index + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(escaped)) return 'the path contains a malformed percent escape';
      if (REFUSED_ESCAPES.has(escaped.toLowerCase())) return `the path must not contain the escape "%${escaped}"`;
      index += 2;
    }
  }
  return undefined;
}

/** Whether the segment starting at `start` (just after a "/") is "." or "..": checked in the one pass over the path, with no split per request. */
function isDotSegmentAt(path: string, start: number): boolean {
  if (path[start] !== '.') return false;
  const next = start + (path[start + 1] === '.' ? 2 : 1);
  return next === path.length || path[next] === '/';
}

/** Escapes of ".", "/", "\" and "%": once decoded (once or twice), each can change the path's shape. */
const REFUSED_ESCAPES = new Set(['2e', '2f', '5c', '25']);

/**
 * Installs the check as an onRequest hook of every route, the 404 route included. Fastify matches
 * the route before onRequest runs, but matching has no effect: nothing is read or sent before this
 * hook answers 400 invalid_path. (Fastify's `rewriteUrl` runs before matching but cannot answer:
 * it returns a URL or the socket is destroyed, and a throw escapes the server's request handler.)
 * The forwarder sends `request.raw.url`, the string checked here.
 */
export function installRequestTargetCheck(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const problem = requestTargetProblem(request.raw.url ?? '');
    if (problem === undefined) return done();
    // Labelled as the 404 route is: whatever fastify matched, no route served this request.
    request.observation.route = 'unmatched';
    done(new GatewayError('invalid_path', `Invalid request path: ${problem}.`));
  });
}
