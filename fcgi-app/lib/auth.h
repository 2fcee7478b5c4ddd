/*
 * auth.h: API tokens of the browser UI (Authorization: Bearer, RFC 6750).
 * A token is "cp_" + 64 hex digits of 32 random bytes (RAND_bytes); only
 * its SHA-256 (hex) is stored in api_tokens.token_sha256. All SQL on
 * api_tokens is in auth.c (issue 6): the download and API routes call
 * auth_bearer_business, callpipectl the auth_token_* functions.
 */
#ifndef CP_AUTH_H
#define CP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "cp_err.h"

struct db;

#define AUTH_TOKEN_LEN   67  /* "cp_" + 64 hex, without the NUL */
#define AUTH_SHA256_HEX  64  /* hex SHA-256, without the NUL */

/* Lower-case hex of the n bytes at in into out (2n + 1 bytes,
 * NUL-terminated). sign.c's signatures use it too. */
void auth_hex(const unsigned char *in, size_t n, char *out);

/* True when the first n bytes of s are lower-case hex digits (a NUL
 * before that is false). */
bool auth_lower_hex(const char *s, size_t n);

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

/*
 * The business of the API token in authorization_header (the raw
 * Authorization value, may be NULL; shape as auth_bearer_token), RFC 6750
 * §2.1. A token revoked with auth_token_revoke is refused. On success the
 * token's last_used_at becomes NOW(3), at most once a minute (a page that
 * polls every few seconds does not write the row on every request); that
 * write is best effort and never fails the request.
 * Returns CP_OK with *business_id (>= 1); CP_AUTH when the header is
 * missing or malformed or the token unknown or revoked (*business_id 0);
 * CP_DB when the lookup fails (db_error says why); CP_SYSTEM when
 * libcrypto cannot hash.
 */
enum cp_err auth_bearer_business(struct db *db,
    const char *authorization_header, long long *business_id);

/*
 * A new API token of business_id named name (1 to 255 bytes of UTF-8, no
 * control characters; it is for people: "browser, front desk").
 * The token goes to token (AUTH_TOKEN_LEN + 1 bytes), to be shown once:
 * only its SHA-256 is stored. *id gets its api_tokens.id (may be NULL).
 * Returns CP_OK; CP_INPUT for a bad name or business_id < 1;
 * CP_NOTFOUND when there is no such business; CP_SYSTEM when the random
 * source fails; CP_DB. token is "" unless CP_OK.
 */
enum cp_err auth_token_create(struct db *db, long long business_id,
    const char *name, long long *id, char token[AUTH_TOKEN_LEN + 1]);

/* One api_tokens row, as auth_token_list gives it. Times are ISO-8601
 * UTC with milliseconds, "2026-12-01T11:00:00.123Z"; "" for NULL. */
struct auth_token_info {
	long long id;
	long long business_id;
	char      name[1024];        /* VARCHAR(255) of utf8mb4: <= 1020 bytes */
	char      created_at[32];
	char      last_used_at[32];  /* "" = never used */
	char      revoked_at[32];    /* "" = active */
};

/*
 * Every token (revoked ones too) of business_id, or of all businesses when
 * business_id is 0, by id. *out is a malloc'd array of *n rows (NULL when
 * none); the caller frees it with free().
 * Returns CP_OK; CP_INPUT for business_id < 0; CP_NOMEM; CP_DB.
 */
enum cp_err auth_token_list(struct db *db, long long business_id,
    struct auth_token_info **out, size_t *n);

/*
 * Revokes token id: revoked_at becomes NOW(3) and auth_bearer_business
 * refuses it from the next request on. The row is kept (its name and
 * times stay listed).
 * Returns CP_OK; CP_NOTFOUND when there is no active token with that id
 * (none at all, or already revoked); CP_DB.
 */
enum cp_err auth_token_revoke(struct db *db, long long id);

#endif
