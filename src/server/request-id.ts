import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Inbound ids are kept only when they are short and printable, so they cannot forge log lines. */
const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export function requestIdOf(request: IncomingMessage): string {
  const inbound = request.headers['x-request-id'];
  return typeof inbound === 'string' && ACCEPTABLE_REQUEST_ID.test(inbound) ? inbound : randomUUID();
}
