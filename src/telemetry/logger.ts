import pino, { type DestinationStream, type Logger } from 'pino';
import { CoalescingDestination } from './log-destination.js';

/**
 * Header names that carry credentials. Whatever logs a request's headers (fastify's own error
 * logs included) sees them censored; Tollbooth's access line does not log headers at all.
 */
const SECRET_HEADER_PATHS = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie'].flatMap((name) => [
  `req.headers["${name}"]`,
  `request.headers["${name}"]`,
  `headers["${name}"]`,
]);

/**
 * The process logger. By default it writes to stdout asynchronously: a synchronous write per
 * access-log line cost about 6% of the gateway's CPU under load (profiled); the lines of one
 * event-loop turn reach the asynchronous writer as one write (log-destination.ts), and none is
 * held back longer than that turn. `flushLogs` runs before exit.
 */
export function createLogger(level: string, destination: DestinationStream = stdoutDestination()): Logger {
  return pino(
    {
      level,
      base: { service: 'tollbooth' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_HEADER_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Standard output, asynchronously, lines coalesced per event-loop turn. pino flushes its own
 * destination when the process exits; the lines of the last turn are handed to it then too.
 */
function stdoutDestination(): DestinationStream {
  const destination = new CoalescingDestination(pino.destination({ dest: 1, sync: false }));
  process.once('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // Exiting with stdout gone (EPIPE) or not yet open: nothing more can be written anyway.
    }
  });
  return destination;
}

/** Writes out whatever the asynchronous destination still holds; call before the process exits. */
export function flushLogs(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
