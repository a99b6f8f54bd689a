import type { Socket } from 'node:net';
import { STATUS_CODES, type ServerOptions, type ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';

/**
 * Bounds on client connections, so no client can hold a socket open by sending slowly:
 *   headers      Node's headersTimeout (also covers a connection that never sends a byte)
 *   whole request  Node's requestTimeout (headers + body; ends when the body is read, so a
 *                streamed response after it is not limited)
 *   body silence our socket timeout, armed only while a request body is being read
 *   unread body  a request answered before its body was read closes its connection
 *   count        net.Server.maxConnections
 * Node's own client errors (bad request line, timeouts, oversized headers) answer in the OpenAI envelope.
 */

/**
 * How often Node checks the header and request deadlines (its default is 30 s): a connection
 * outlives its deadline by at most this much.
 */
const DEADLINE_CHECK_INTERVAL_MS = 1_000;

/**
 * After an error answer the socket is half-closed (FIN sent) and what the client still sends is
 * read and discarded this long before the socket is destroyed: destroying at once, with unread bytes
 * in the kernel buffer, sends a reset that can make the client lose the answer it was just sent.
 */
const CLOSE_LINGER_MS = 1_000;

/** At most one warning this often while connections are refused at server.maxConnections (each carries the count). */
const REFUSED_WARNING_INTERVAL_MS = 10_000;

type ServerSettings = ServerConfig;

/** The fastify options that carry the deadlines to Node's http server. */
export function connectionLimitOptions(server: ServerSettings): { requestTimeout: number; http: ServerOptions } {
  return {
    // fastify copies this onto the server after creating it (its default, 0, disables Node's).
    requestTimeout: server.requestTimeoutMs,
    // Given to http.createServer, which checks headersTimeout <= requestTimeout and owns the check interval.
    http: {
      headersTimeout: server.headersTimeoutMs,
      requestTimeout: server.requestTimeoutMs,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    },
  };
}

/** The catalogue code for an error Node's http server reports on a client connection. */
export function clientErrorCode(nodeErrorCode: string | undefined): ErrorCode {
  switch (nodeErrorCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    case 'HPE_HEADER_OVERFLOW':
      return 'request_headers_too_large';
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'request_too_large';
    default:
      return 'malformed_http_request';
  }
}

/** A complete HTTP/1.1 error answer in the OpenAI envelope, written straight to a socket. */
export function rawErrorResponse(error: GatewayError): string {
  const body = JSON.stringify(error.toBody());
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** The response Node has started on a socket, if any (http's own bookkeeping, read as Node's clientError default does). */
function responseStartedOn(socket: Socket): boolean {
  const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return response?.headersSent === true;
}

const closingSockets = new WeakSet<Socket>();

/** Half-closes the socket now and destroys it after the linger, or earlier if the client closes. */
function closeAfterLinger(socket: Socket): void {
  if (closingSockets.has(socket)) return;
  closingSockets.add(socket);
  const timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}

/** Answers `error` on a socket that has no response under way, then closes it. */
function answerAndClose(socket: Socket, error: GatewayError): void {
  if (closingSockets.has(socket) || socket.destroyed) return;
  if (socket.writable && !responseStartedOn(socket)) socket.write(rawErrorResponse(error));
  closeAfterLinger(socket);
}

/**
 * fastify's clientErrorHandler: Node's parser and deadline errors answered as OpenAI errors.
 * A reset connection has no one to answer.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  // A GatewayError here is one of ours that closed the socket (the body silence limit) coming back round.
  answerAndClose(socket, isGatewayError(error) ? error : new GatewayError(clientErrorCode(error.code), undefined, null, { cause: error }));
}

/**
 * The per-request part: a silence limit while the body is read, and no keep-alive for a request
 * answered before its body was read (Node would otherwise read and discard a declared body of any
 * length, at whatever pace the client chooses, before the connection could end).
 */
export function installConnectionLimits(app: FastifyInstance, server: ServerSettings): void {
  app.server.maxConnections = server.maxConnections;
  let refusedSinceWarning = 0;
  let lastWarningAt = Number.NEGATIVE_INFINITY;
  app.server.on('drop', () => {
    refusedSinceWarning += 1;
    if (Date.now() - lastWarningAt < REFUSED_WARNING_INTERVAL_MS) return;
    app.log.warn({ refused: refusedSinceWarning, max_connections: server.maxConnections }, 'client connections refused: server.maxConnections are open');
    refusedSinceWarning = 0;
    lastWarningAt = Date.now();
  });
  const bodyIdleMessage = `No part of the request body arrived for ${server.bodyIdleTimeoutMs} ms.`;

  app.addHook('onRequest', (request, _reply, done) => {
    const incoming = request.raw;
    if (incoming.complete) return done();
    const socket = incoming.socket;
    // Node refreshes a socket's timeout on every read (and write); once the body is in, the
    // connection may stay silent for as long as the response takes (minutes before a first token).
    socket.setTimeout(server.bodyIdleTimeoutMs);
    // Listening here keeps Node from destroying the socket unanswered; it only emits while the body is incomplete.
    incoming.once('timeout', () => {
      const error = new GatewayError('request_timeout', bodyIdleMessage);
      // The client has been silent, so nothing is left unread and closing cannot reset the answer away.
      if (socket.writable && !responseStartedOn(socket)) socket.write(rawErrorResponse(error));
      // The body reader receives the error (the access log records it) and the socket closes with the request.
      incoming.destroy(error);
    });
    incoming.once('end', () => socket.setTimeout(0));
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) {
      void reply.header('connection', 'close');
      const socket = request.raw.socket;
      // Node ends its side after a Connection: close answer but keeps reading the body; stop that.
      reply.raw.once('finish', () => closeAfterLinger(socket));
    }
    done(null, payload);
  });
}
