/*
 * openai.h: one request to an OpenAI-compatible service (OpenAI, a
 * self-hosted whisper.cpp server or speaches, vLLM, llama.cpp's server,
 * Ollama) and the one table that classifies its failures.
 *
 * Facts from OPENAI.md ("Errors, retries, auth", "Self-hosted servers",
 * "What a robust client does"):
 *   - retried: 408, 409, 429 with code rate_limit_exceeded (or any 429
 *     that is not insufficient_quota), every 5xx, a truncated or non-JSON
 *     200, timeouts and connection errors; never sooner than
 *     retry-after-ms / Retry-After says, capped at OPENAI_RETRY_AFTER_MAX_MS;
 *   - permanent: 429 insufficient_quota, 400, 401, 403, 404, 413, 415, any
 *     other 4xx, and every 3xx (the client follows no redirect);
 *   - error bodies differ by server: {"error": {"message", "type", "code"}}
 *     (OpenAI, vLLM, llama.cpp: code may be an integer), {"error": "text"}
 *     (whisper.cpp), {"detail": "text" | [{"msg": ...}]} (speaches,
 *     FastAPI). The message is what reaches last_error.
 *   - Authorization: Bearer <key>; the key never reaches a log line or an
 *     error text. x-request-id is logged.
 */
#ifndef CP_OPENAI_H
#define CP_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include "cp_err.h"
#include "http.h"

struct json_object;   /* json-c */

/* The longest wait a Retry-After may ask for (ms): openai-python's 120 s. */
#define OPENAI_RETRY_AFTER_MAX_MS 120000L

enum openai_class {
	OPENAI_OK,         /* 2xx with a JSON body */
	OPENAI_RETRY,      /* try again later (the job's backoff) */
	OPENAI_PERMANENT   /* fail the stage now */
};

/* One row of the error table: a status (0 = any other), an error code
 * (NULL = any) and the class. The first matching row wins. */
struct openai_error_rule {
	long               status_lo, status_hi;  /* inclusive range */
	const char        *code;                  /* error.code / error.type, NULL = any */
	enum openai_class  cls;
	const char        *why;                   /* short name for logs: "rate limit" */
};

/*
 * Classifies an answer: status (0 when no answer came, i.e. a timeout or
 * connection error), code (error.code or error.type of the body, NULL when
 * none). Returns the class of the first rule of the table that matches and,
 * in *why (may be NULL), the rule's short name.
 */
enum openai_class openai_classify(long status, const char *code,
    const char **why);

/*
 * The error message and code of an error body of any of the shapes above.
 * msg (msglen bytes) gets the message, or "" when the body has none (not
 * JSON, or an unknown shape); code (codelen bytes) gets error.code if it
 * is a string, else error.type, else "".
 */
void openai_error_text(const char *body, char *msg, size_t msglen,
    char *code, size_t codelen);

/* The outcome of one call. */
struct openai_result {
	struct json_object *json;  /* the parsed 2xx body (json_object_put it), or NULL */
	long   status;             /* HTTP status, 0 when none came */
	long   retry_after_ms;     /* the service's wait (capped), -1 none */
	char   request_id[96];
};

/*
 * POSTs req (its url, body, bearer, timeout and caps set by the caller;
 * max_redirects is forced to 0) and classifies the answer. what names the
 * call in messages ("STT", "summary").
 * Returns CP_OK with res->json set for a 2xx JSON answer; for a
 * retryable failure — CP_UPSTREAM — (res->retry_after_ms set when the
 * service asked for a wait); CP_REJECTED for a permanent one; CP_NOMEM. err (errlen bytes)
 * gets "what: HTTP 429 insufficient_quota: You exceeded your current quota…"
 * or "what: timed out after N ms", never a credential.
 * Free res with openai_result_free.
 */
enum cp_err openai_post(const struct http_request *req, const char *what,
    struct openai_result *res, char *err, size_t errlen);

void openai_result_free(struct openai_result *res);

/* "base_url" + "/" + path, e.g. ".../v1" + "audio/transcriptions"
 * (OpenAI's SDKs append the path to the base URL). CP_OK or CP_INPUT when
 * it does not fit outlen bytes. */
enum cp_err openai_url(const char *base_url, const char *path, char *out,
    size_t outlen);

#endif
