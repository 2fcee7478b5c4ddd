/*
 * auth.h: API tokens of the browser UI (Authorization: Bearer, RFC 6750).
 * A token is "cp_" + 64 hex digits of 32 random bytes (RAND_bytes); only
 * its SHA-256 (hex) is stored in api_tokens.token_sha256.
 */
#ifndef CP_AUTH_H
#define CP_AUTH_H

#include <stddef.h>
#include "cp_err.h"

#define AUTH_TOKEN_LEN   67  /* "cp_" + 64 hex, without the NUL */
#define AUTH_SHA256_HEX  64  /* hex SHA-256, without the NUL */

/* Makes a new random token into out (AUTH_TOKEN_LEN + 1 bytes).
 * Returns CP_OK or CP_SYSTEM when the random source fails. */
enum cp_err auth_token_new(char out[AUTH_TOKEN_LEN + 1]);

/* Hex SHA-256 of the len bytes at s into out (AUTH_SHA256_HEX + 1 bytes).
 * Returns CP_OK or CP_SYSTEM when libcrypto fails. */
enum cp_err auth_sha256_hex(const char *s, size_t len,
    char out[AUTH_SHA256_HEX + 1]);

/*
 * Extracts the token from an Authorization header value (may be NULL):
 * "Bearer <token>" (scheme case-insensitive, RFC 7235 §2.1) where token
 * has the shape above. Returns a pointer into header, or NULL.
 */
const char *auth_bearer_token(const char *header);

#endif
