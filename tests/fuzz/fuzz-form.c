/*
 * fuzz-form.c: libFuzzer harness of form_parse() (form.c), the parser that
 * sees every webhook body before the signature is checked. Build and run:
 * see README.md beside this file.
 *
 * Besides crashes and sanitizer reports it checks form.h's promises: on
 * CP_OK at most FORM_MAX_PAIRS pairs, non-empty names, values of
 * value_len bytes without NUL, both at most FORM_MAX_VALUE bytes, and
 * form_get() finding every name; on error an empty *out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f;
	enum cp_err e;
	size_t i;

	e = form_parse((const char *)data, size, &f);
	if (e != CP_OK) {
		if ((e != CP_INPUT && e != CP_NOMEM) || f.n != 0 ||
		    f.pairs != NULL)
			abort();
		return 0;
	}
	if (size == 0 && f.n != 0)
		abort();
	if (f.n > FORM_MAX_PAIRS || (f.n > 0 && f.pairs == NULL))
		abort();
	for (i = 0; i < f.n; i++) {
		const struct form_pair *p = &f.pairs[i];

		if (p->name == NULL || p->value == NULL || p->name[0] == '\0' ||
		    strlen(p->name) > FORM_MAX_VALUE ||
		    p->value_len > FORM_MAX_VALUE ||
		    strlen(p->value) != p->value_len ||
		    form_get(&f, p->name) == NULL)
			abort();
	}
	form_free(&f);
	if (f.n != 0 || f.pairs != NULL)
		abort();
	return 0;
}
