/*
 * fuzz-twilio-sig.c: libFuzzer harness of twilio_sig.c (with form.c in
 * front of it, as on a webhook). The input is "URL\nBODY"; without a
 * newline it is all BODY and the URL is a fixed webhook URL, so the
 * corpus-form/ seeds serve this harness too.
 *
 * Properties checked on every input whose body parses: the computed
 * signature is 28 base64 characters and validates; a signature with one
 * character changed does not (that path also runs the default-port URL
 * variant); validation never accepts NULL or empty headers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "twilio_sig.h"

#define FUZZ_URL   "https://calls.example.com/webhook/incoming_call"
#define FUZZ_TOKEN "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char sig[TWILIO_SIG_B64_LEN + 1], *url;
	const char *body;
	size_t url_len, body_len, i;
	struct form f;

	if (nl != NULL) {
		url_len = (size_t)(nl - data);
		body = (const char *)nl + 1;
		body_len = size - url_len - 1;
	} else {
		url_len = strlen(FUZZ_URL);
		body = (const char *)data;
		body_len = size;
	}
	url = malloc(url_len + 1);
	if (url == NULL)
		return 0;
	if (nl != NULL)
		memcpy(url, data, url_len);
	else
		memcpy(url, FUZZ_URL, url_len);
	url[url_len] = '\0';    /* an embedded NUL just shortens the URL */

	if (form_parse(body, body_len, &f) != CP_OK) {
		free(url);
		return 0;
	}
	if (twilio_sig_compute(url, &f, FUZZ_TOKEN, sig) != CP_OK ||
	    strlen(sig) != TWILIO_SIG_B64_LEN)
		abort();
	for (i = 0; i < TWILIO_SIG_B64_LEN; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/=", sig[i]) == NULL)
			abort();
	if (!twilio_sig_valid(url, &f, FUZZ_TOKEN, sig))
		abort();
	/* Flip one character, chosen by the input. */
	i = size % (TWILIO_SIG_B64_LEN - 1);
	sig[i] = sig[i] == 'A' ? 'B' : 'A';
	if (twilio_sig_valid(url, &f, FUZZ_TOKEN, sig) ||
	    twilio_sig_valid(url, &f, FUZZ_TOKEN, NULL) ||
	    twilio_sig_valid(url, &f, FUZZ_TOKEN, "") ||
	    twilio_sig_valid(url, &f, "", sig))
		abort();
	form_free(&f);
	free(url);
	return 0;
}
