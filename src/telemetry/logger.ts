import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Header names that carry credentials. Whatever logs a request's headers (fastify's own error
 * logs included) sees them censored; Tollbooth's access line does not log headers at all.
 */
const SECRET_HEADER_PATHS = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie'].flatMap((name) => [
  `req.headers["${name}"]`,
  `request.headers["${name}"]`,
  `headers["${name}"]`,
]);

export function createLogger(level: string, destination?: DestinationStream): Logger {
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
