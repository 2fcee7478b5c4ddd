/*
 * summary_openai.h: the "openai" summary backend, one POST to an
 * OpenAI-compatible {base_url}/chat/completions (OpenAI, vLLM, llama.cpp's
 * server, Ollama) asking for JSON {service, city, confidence, summary},
 * and the validation of the answer.
 *
 * Protocol facts from OPENAI.md "POST /v1/chat/completions (JSON)" and
 * "Errors, retries, auth"; configuration summary.openai (conf.h):
 * base_url, model, api_key, timeout_ms, response_format ("json_schema" or
 * "json_object").
 *
 * The request building and the validation are separate functions so that
 * the unit tests (tests/unit/check_summary.c) call them without a server.
 */
#ifndef CP_SUMMARY_OPENAI_H
#define CP_SUMMARY_OPENAI_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"
#include "summary.h"

/* Cap on the /chat/completions answer (bytes): the answer is at most a
 * few thousand characters of JSON, so anything near this is not one. */
#define SUMMARY_OPENAI_MAX_BYTES (1024L * 1024L)

/* The json_schema name sent (OPENAI.md: a-z, A-Z, 0-9, _ and -, <= 64). */
#define SUMMARY_OPENAI_SCHEMA_NAME "call_summary"

/*
 * The summary backend "openai" (a row of summary_backends[]): builds the
 * request (summary_openai_request_body), POSTs it to
 * {summary.openai.base_url}/chat/completions with
 * "Authorization: Bearer {api_key}" (none when the key is ""), a total
 * timeout of summary.openai.timeout_ms milliseconds, no redirect followed
 * and an answer cap of SUMMARY_OPENAI_MAX_BYTES, then validates
 * choices[0] of the answer (summary_openai_parse).
 * Returns CP_OK with out filled (malloc'd strings: summary_result_free);
 * CP_EMPTY for an empty or all-white-space transcript (nothing is sent);
 * CP_UPSTREAM for a failure worth retrying — the service's 408, 409, 429
 * rate limit, 5xx, a timeout or connection error, a truncated or non-JSON
 * body (openai.h's table), or an answer that fails validation — with
 * *retry_after_ms (may be NULL) set to the service's retry-after-ms /
 * Retry-After in milliseconds, else -1; CP_REJECTED for a permanent
 * refusal (429 insufficient_quota, 400, 401, 403, 404, 3xx, ..., or the
 * model's refusal) with the service's own message in err; CP_INPUT when
 * the configuration cannot make a request (conf NULL, no base_url or
 * model, an unknown response_format, a base_url too long); CP_NOMEM.
 * err (errlen bytes) gets a one-line reason, never the API key.
 */
enum cp_err summary_openai_summarize(const struct cp_conf *conf,
    const struct summary_request *req, struct summary_result *out,
    long *retry_after_ms, char *err, size_t errlen);

/*
 * The JSON body of the /chat/completions request for req, in *body
 * (malloc'd, NUL-terminated; free() it), built with json-c:
 *   {"model": summary.openai.model, "temperature": 0,
 *    "messages": [{"role": "system", "content": instructions},
 *                 {"role": "user", "content": req->transcript}],
 *    "response_format": ...}
 * The instructions ask for only a json object {service, city, confidence,
 * summary}, the summary in the transcript's language (req->language, an
 * ISO-639-1 code, named in words; "" or NULL: the language the caller
 * speaks), service and city null when the caller did not say, and list
 * the gazetteer's services and cities (name and Hebrew name) as the names
 * to prefer. They contain the word "json", which json_object mode needs.
 * response_format (OPENAI.md): "json_schema" (also when NULL or "") sends
 * {"type": "json_schema", "json_schema": {"name": "call_summary",
 * "strict": true, "schema": {...}}} whose schema has
 * "additionalProperties": false and all four properties required
 * (service and city ["string", "null"], confidence number, summary
 * string), as strict mode demands; "json_object" sends
 * {"type": "json_object"}.
 * Returns CP_OK; CP_INPUT (err says why) when summary.openai.model is
 * unset or response_format is neither; CP_NOMEM.
 */
enum cp_err summary_openai_request_body(const struct cp_conf *conf,
    const struct summary_request *req, char **body, char *err,
    size_t errlen);

/*
 * Validates one answer of the model: content is choices[0].message.content
 * (a JSON text, NULL when the service sent null), finish_reason and
 * refusal are choices[0].finish_reason and choices[0].message.refusal
 * (NULL when absent or null). In this order (OPENAI.md: "Check
 * finish_reason and refusal, parse content, validate it"):
 *   - finish_reason "length": the answer was cut off -> CP_UPSTREAM;
 *   - a non-empty refusal -> CP_REJECTED, the refusal in err;
 *   - finish_reason "content_filter" -> CP_REJECTED (the same transcript
 *     at temperature 0 is filtered again);
 *   - content NULL, not JSON (json-c, strict, nothing but white space
 *     after the value), not an object, or its strings not well-formed
 *     UTF-8 -> CP_UPSTREAM;
 *   - service and city: a string or null (absent counts as null), at most
 *     SUMMARY_SERVICE_MAX / SUMMARY_CITY_MAX characters (code points)
 *     once trimmed of white space; "" is null; confidence: a number in
 *     0..1; summary: a string of 1..SUMMARY_TEXT_MAX characters once
 *     trimmed; any other type, range or length -> CP_UPSTREAM.
 *     Other members are ignored.
 * Then a service or city that summary_gazetteer_match finds in
 * conf->summary.services / cities is stored under the entry's canonical
 * name, any other as given (trimmed).
 * conf may be NULL (nothing is canonicalised then).
 * Returns CP_OK with out filled (malloc'd: summary_result_free), or the
 * error above with out zeroed and err (errlen bytes) saying e.g.
 * "summary: the answer is not valid JSON"; CP_NOMEM.
 */
enum cp_err summary_openai_parse(const struct cp_conf *conf,
    const char *content, const char *finish_reason, const char *refusal,
    struct summary_result *out, char *err, size_t errlen);

/* The longest one summarize may take: summary.openai.timeout_ms + 60 s. */
long summary_openai_max_seconds(const struct cp_conf *conf);

#endif
