import { createHash, randomBytes } from 'node:crypto';

/** Every key Tollbooth issues starts with this, so a leaked key is recognisable (secret scanners, logs). */
export const API_KEY_PREFIX = 'sk-tb-';

/** 32 random bytes are 43 base64url characters without padding. */
const SECRET_BYTES = 32;
const ISSUED_KEY_PATTERN = /^sk-tb-[A-Za-z0-9_-]{43}$/;

/** A new API key: `sk-tb-` followed by 256 random bits in base64url. Shown once, never stored. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

/** True when `text` has the shape of a key this module issues (keys from elsewhere may still be stored by hash). */
export function isIssuedKeyFormat(text: string): boolean {
  return ISSUED_KEY_PATTERN.test(text);
}

/**
 * The stored form of a key: lower-case hex SHA-256. A fast hash is right here, unlike for
 * passwords: a slow hash (bcrypt, scrypt, argon2) protects low-entropy secrets that an attacker can
 * guess. An issued key holds 256 random bits, so a stolen hash cannot be reversed by guessing at any
 * hash speed, and a fast hash keeps verification to about a microsecond on every request.
 */
export function hashApiKey(key: string): string {
  return apiKeyDigest(key).toString('hex');
}

/** The raw 32-byte digest behind `hashApiKey`. */
export function apiKeyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
