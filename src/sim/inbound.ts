import type { IncomingMessage, ServerResponse } from 'node:http';

import type { EngineContext } from './engine-context.js';
import type { JsonObject } from './request-fields.js';
import type { TruthRecord } from './truth.js';

/** One routed POST request with its body read and its ground-truth record open. */
export interface InboundRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Key of the truth record and value of the echoed `x-request-id` header. */
  readonly requestId: string;
  /** The client's own `x-request-id`, when it sent one. */
  readonly inboundRequestId: string | undefined;
  readonly body: Buffer;
  readonly truth: TruthRecord;
  /** The body parsed as a JSON object (throws a 400 SimRequestError when it is not). */
  json(): JsonObject;
}

export type PostHandler = (ctx: EngineContext, inbound: InboundRequest) => void;
