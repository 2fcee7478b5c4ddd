/*
 * auth.c: API tokens of the browser UI (auth.h). A token carries 256 bits
 * from OpenSSL's CSPRNG; the database keeps only its SHA-256, so a leaked
 * api_tokens table does not leak usable tokens.
 */
#include "auth.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define AUTH_TOKEN_PREFIX     "cp_"
#define AUTH_TOKEN_PREFIX_LEN 3
#define AUTH_TOKEN_BYTES      32  /* random bytes, 64 hex digits */

static const char auth_hexdigits[] = "0123456789abcdef";

/* Lower-case hex of n bytes at in into out (2n + 1 bytes, NUL-terminated). */
static void
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

static bool
auth_is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
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
	size_t i;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	if (strncmp(tok, AUTH_TOKEN_PREFIX, AUTH_TOKEN_PREFIX_LEN) != 0)
		return NULL;
	for (i = AUTH_TOKEN_PREFIX_LEN; i < AUTH_TOKEN_LEN; i++)
		if (!auth_is_lower_hex(tok[i]))
			return NULL;
	return tok[AUTH_TOKEN_LEN] == '\0' ? tok : NULL;
}
