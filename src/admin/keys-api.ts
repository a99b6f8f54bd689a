import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { issueKey, KeyPolicyError, patchedKey, viewOf, type KeyStoreAdmin, type KeyView } from '../auth/key-admin.js';
import { KeyExistsError } from '../auth/key-list.js';
import type { StoredKey } from '../auth/policy.js';
import type { TollboothConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { AuditLog } from '../telemetry/audit-log.js';
import { adminAuthentication } from './admin-tokens.js';

export interface KeysApiDependencies {
  readonly tokens: TollboothConfig['admin']['tokens'];
  /** The store keys are changed in; undefined when the keys live only in the configuration. */
  readonly store: KeyStoreAdmin | undefined;
  /** Where every change is recorded besides the log (logging.audit). */
  readonly audit?: AuditLog | undefined;
  readonly log: Logger;
}

/** A key as the API shows it: its policy, never its secret or the hash of it. */
export type KeyObject = { readonly object: 'api_key' } & KeyView;

/**
 * The key management routes of the admin API (documented in openapi.ts): list, create, read,
 * change (JSON Merge Patch) and revoke keys, in the store the gateways read, so a change reaches
 * every instance the way the CLI's does. Only with admin tokens or a client CA configured; every
 * change is logged with the admin identity (the token's id or the certificate's CN).
 */
export function registerKeysApi(app: FastifyInstance, dependencies: KeysApiDependencies): void {
  const { store, log } = dependencies;
  const writableStore = (): KeyStoreAdmin => {
    if (store === undefined) throw new GatewayError('key_store_read_only');
    return store;
  };
  const audit = (request: FastifyRequest, action: string, key: Pick<StoredKey, 'id' | 'tenant'>): void => {
    log.info({ request_id: request.id, admin: request.adminIdentity, action, key_id: key.id, tenant: key.tenant }, 'admin API changed a key');
    dependencies.audit?.adminAction({ requestId: request.id, admin: request.adminIdentity, action, keyId: key.id, tenant: key.tenant });
  };

  // A merge patch is JSON; fastify's own parser reads it as such (limits and errors included).
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.register(async (keysApi) => {
    keysApi.addHook('onRequest', adminAuthentication(dependencies.tokens));

    keysApi.get('/api/v1/keys', async () => ({ object: 'list', data: (await storeCall(() => writableStore().list())).map(keyObject) }));

    keysApi.post('/api/v1/keys', async (request, reply) => {
      const target = writableStore();
      const { secret, stored } = validated(() => issueKey(request.body));
      await storeCall(() => target.create(stored));
      audit(request, 'key.create', stored);
      return reply.code(201).send({ ...keyObject(stored), key: secret });
    });

    keysApi.get<{ Params: { id: string } }>('/api/v1/keys/:id', async (request) => keyObject(await existingKey(writableStore(), request.params.id)));

    keysApi.patch<{ Params: { id: string } }>('/api/v1/keys/:id', async (request) => {
      const target = writableStore();
      const current = await existingKey(target, request.params.id);
      const next = validated(() => patchedKey(current, request.body));
      if (!(await storeCall(() => target.replace(next)))) throw keyNotFound(current.id);
      audit(request, 'key.update', next);
      return keyObject(next);
    });

    keysApi.delete<{ Params: { id: string } }>('/api/v1/keys/:id', async (request) => {
      const target = writableStore();
      const current = await existingKey(target, request.params.id);
      if (!(await storeCall(() => target.revoke(current.id)))) throw keyNotFound(current.id);
      audit(request, 'key.revoke', current);
      return { object: 'api_key', id: current.id, deleted: true };
    });
  });
}

function keyObject(key: StoredKey): KeyObject {
  return { object: 'api_key', ...viewOf(key) };
}

async function existingKey(store: KeyStoreAdmin, id: string): Promise<StoredKey> {
  const key = (await storeCall(() => store.list())).find((candidate) => candidate.id === id);
  if (key === undefined) throw keyNotFound(id);
  return key;
}

function keyNotFound(id: string): GatewayError {
  return new GatewayError('key_not_found', `No API key has the id "${id}".`, 'id');
}

/** A policy problem is the caller's (400, every problem named); the first one's path is the `param`. */
function validated<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof KeyPolicyError)) throw error;
    const firstPath = error.problems[0]?.split(': ', 1)[0];
    throw new GatewayError('invalid_request_body', `The key is not valid: ${error.problems.join('; ')}.`, firstPath === undefined || firstPath.startsWith('(') ? null : firstPath);
  }
}

/** A store that cannot be read or written is the gateway's problem (503), a taken id the caller's (409). */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (error instanceof KeyExistsError) throw new GatewayError('key_exists', error.message, 'id', { cause: error });
    throw new GatewayError('key_store_unavailable', `The key store cannot be used right now: ${(error as Error).message}`, null, { cause: error });
  }
}
