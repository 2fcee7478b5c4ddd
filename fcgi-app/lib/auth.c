/*
 * auth.c: API tokens of the browser UI (auth.h). A token carries 256 bits
 * from OpenSSL's CSPRNG; the database keeps only its SHA-256, so a leaked
 * api_tokens table does not leak usable tokens.
 */
#include "auth.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "db.h"
#include "utf8.h"

/* MariaDB ER_NO_REFERENCED_ROW_2: the FOREIGN KEY's parent row is absent
 * (mariadb.com/kb "MariaDB Error Codes"). */
#define AUTH_ER_NO_REFERENCED_ROW 1452

/* "2026-12-01T11:00:00.123Z" from a DATETIME(3) column c (the connection's
 * time_zone is +00:00, db.h); NULL stays NULL. */
#define AUTH_ISO(c) "CONCAT(LEFT(DATE_FORMAT(" c ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"

#define AUTH_TOKEN_PREFIX     "cp_"
#define AUTH_TOKEN_PREFIX_LEN 3
#define AUTH_TOKEN_BYTES      32  /* random bytes, 64 hex digits */

static const char auth_hexdigits[] = "0123456789abcdef";

void
auth_hex(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = auth_hexdigits[in[i] >> 4];
		out[2 * i + 1] = auth_hexdigits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

enum cp_err
auth_token_new(char out[AUTH_TOKEN_LEN + 1])
{
	unsigned char raw[AUTH_TOKEN_BYTES];

	out[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return CP_SYSTEM;
	memcpy(out, AUTH_TOKEN_PREFIX, AUTH_TOKEN_PREFIX_LEN);
	auth_hex(raw, sizeof(raw), out + AUTH_TOKEN_PREFIX_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	return CP_OK;
}

enum cp_err
auth_sha256_hex(const char *s, size_t len, char out[AUTH_SHA256_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (s == NULL && len > 0)
		return CP_SYSTEM;
	if (!EVP_Digest(s != NULL ? s : "", len, md, &mdlen, EVP_sha256(),
	    NULL) || mdlen * 2 != AUTH_SHA256_HEX)
		return CP_SYSTEM;
	auth_hex(md, mdlen, out);
	return CP_OK;
}

bool
auth_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;   /* also stops at a short string's NUL */
	return true;
}

/*
 * RFC 7235 §2.1: credentials = auth-scheme [ 1*SP ( token68 / ... ) ], the
 * scheme case-insensitive; RFC 6750 §2.1 names the scheme "Bearer". One or
 * more spaces are accepted between scheme and token. Nothing may follow the
 * token, not even spaces: the web server already trims trailing whitespace
 * of a field value (RFC 9110 §5.5), and a NUL right after the token lets
 * callers use the returned pointer as a C string of AUTH_TOKEN_LEN bytes.
 */
const char *
auth_bearer_token(const char *header)
{
	const char *tok;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	if (strncmp(tok, AUTH_TOKEN_PREFIX, AUTH_TOKEN_PREFIX_LEN) != 0)
		return NULL;
	if (!auth_lower_hex(tok + AUTH_TOKEN_PREFIX_LEN,
	    AUTH_TOKEN_LEN - AUTH_TOKEN_PREFIX_LEN))
		return NULL;
	return tok[AUTH_TOKEN_LEN] == '\0' ? tok : NULL;
}

enum cp_err
auth_bearer_business(struct db *db, const char *authorization_header,
    long long *business_id)
{
	const char *tok = auth_bearer_token(authorization_header);
	char hash[AUTH_SHA256_HEX + 1];
	struct db_result *res = NULL;
	struct db_param p[1];
	long long id = 0, due = 0;
	enum cp_err rc;

	*business_id = 0;
	if (tok == NULL)
		return CP_AUTH;
	if (auth_sha256_hex(tok, AUTH_TOKEN_LEN, hash) != CP_OK)
		return CP_SYSTEM;
	p[0] = db_str(hash);
	/* Column 2: last_used_at is due to be written (at most once a
	 * minute), so most requests run this one statement only. */
	if (db_exec(db, "SELECT id, business_id, last_used_at IS NULL OR "
	    "last_used_at < NOW(3) - INTERVAL 60 SECOND FROM api_tokens WHERE "
	    "token_sha256 = ? AND revoked_at IS NULL", p, 1, &res,
	    NULL) != CP_OK)
		return CP_DB;
	rc = db_cell_ll(res, 0, 0, 1, LLONG_MAX, &id);
	if (rc == CP_OK)
		rc = db_cell_ll(res, 0, 1, 1, LLONG_MAX, business_id);
	if (rc == CP_OK)
		rc = db_cell_ll(res, 0, 2, 0, 1, &due);
	db_result_free(res);
	if (rc != CP_OK) {
		*business_id = 0;
		return rc == CP_NOTFOUND ? CP_AUTH : CP_DB;
	}
	if (!due)
		return CP_OK;
	/* Best effort: a failed write leaves an older last_used_at, which
	 * is no reason to refuse a valid token. The WHERE repeats the
	 * minute, so children racing here write it once. */
	p[0] = db_i64(id);
	(void)db_exec(db, "UPDATE api_tokens SET last_used_at = NOW(3) "
	    "WHERE id = ? AND (last_used_at IS NULL OR "
	    "last_used_at < NOW(3) - INTERVAL 60 SECOND)", p, 1, NULL, NULL);
	return CP_OK;
}

/* A token's name is for people: 1 to 255 bytes of UTF-8, no C0 controls
 * or DEL (a newline would break `callpipectl token list`). */
static bool
auth_name_ok(const char *name)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 255 ||
	    !utf8_valid(name, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

enum cp_err
auth_token_create(struct db *db, long long business_id, const char *name,
    long long *id, char token[AUTH_TOKEN_LEN + 1])
{
	char hash[AUTH_SHA256_HEX + 1];
	struct db_param p[3];
	enum cp_err rc;

	token[0] = '\0';
	if (id != NULL)
		*id = 0;
	if (business_id < 1 || !auth_name_ok(name))
		return CP_INPUT;
	if ((rc = auth_token_new(token)) != CP_OK)
		return rc;
	if (auth_sha256_hex(token, AUTH_TOKEN_LEN, hash) != CP_OK) {
		OPENSSL_cleanse(token, AUTH_TOKEN_LEN + 1);
		return CP_SYSTEM;
	}
	p[0] = db_i64(business_id);
	p[1] = db_str(name);
	p[2] = db_str(hash);
	rc = db_exec(db, "INSERT INTO api_tokens (business_id, name, "
	    "token_sha256) VALUES (?, ?, ?)", p, 3, NULL, NULL);
	if (rc != CP_OK) {
		OPENSSL_cleanse(token, AUTH_TOKEN_LEN + 1);
		return db_errno(db) == AUTH_ER_NO_REFERENCED_ROW ? CP_NOTFOUND :
		    rc;
	}
	if (id != NULL)
		*id = (long long)db_insert_id(db);
	return CP_OK;
}

/* Copies cell (row, col) into dst (len bytes), "" for NULL. */
static void
auth_copy_cell(const struct db_result *res, size_t row, size_t col,
    char *dst, size_t len)
{
	const char *v = db_cell(res, row, col);

	cp_fmt(dst, len, "%s", v != NULL ? v : "");
}

enum cp_err
auth_token_list(struct db *db, long long business_id,
    struct auth_token_info **out, size_t *n)
{
	struct db_result *res = NULL;
	struct auth_token_info *rows;
	struct db_param p[2];
	enum cp_err rc = CP_OK;

	*out = NULL;
	*n = 0;
	if (business_id < 0)
		return CP_INPUT;
	p[0] = db_i64(business_id);
	p[1] = db_i64(business_id);
	if (db_exec(db, "SELECT id, business_id, name, " AUTH_ISO("created_at")
	    ", " AUTH_ISO("last_used_at") ", " AUTH_ISO("revoked_at")
	    " FROM api_tokens WHERE ? = 0 OR business_id = ? ORDER BY id",
	    p, 2, &res, NULL) != CP_OK)
		return CP_DB;
	if (res->nrows == 0) {
		db_result_free(res);
		return CP_OK;
	}
	if ((rows = calloc(res->nrows, sizeof(*rows))) == NULL) {
		db_result_free(res);
		return CP_NOMEM;
	}
	for (size_t i = 0; i < res->nrows && rc == CP_OK; i++) {
		rc = db_cell_ll(res, i, 0, 1, LLONG_MAX, &rows[i].id);
		if (rc == CP_OK)
			rc = db_cell_ll(res, i, 1, 1, LLONG_MAX,
			    &rows[i].business_id);
		auth_copy_cell(res, i, 2, rows[i].name, sizeof(rows[i].name));
		auth_copy_cell(res, i, 3, rows[i].created_at,
		    sizeof(rows[i].created_at));
		auth_copy_cell(res, i, 4, rows[i].last_used_at,
		    sizeof(rows[i].last_used_at));
		auth_copy_cell(res, i, 5, rows[i].revoked_at,
		    sizeof(rows[i].revoked_at));
	}
	if (rc != CP_OK) {
		/* id and business_id are NOT NULL integers: anything else
		 * means the query and the schema disagree. */
		db_result_free(res);
		free(rows);
		return CP_DB;
	}
	*n = res->nrows;
	*out = rows;
	db_result_free(res);
	return CP_OK;
}

enum cp_err
auth_token_revoke(struct db *db, long long id)
{
	struct db_param p[1];
	unsigned long long changed = 0;

	if (id < 1)
		return CP_NOTFOUND;
	p[0] = db_i64(id);
	if (db_exec(db, "UPDATE api_tokens SET revoked_at = NOW(3) WHERE "
	    "id = ? AND revoked_at IS NULL", p, 1, NULL, &changed) != CP_OK)
		return CP_DB;
	return changed == 1 ? CP_OK : CP_NOTFOUND;
}
