#include "cp_num.h"

#include <limits.h>
#include <stdbool.h>

enum cp_err
cp_parse_ll(const char *s, long long min, long long max, long long *out)
{
	unsigned long long mag = 0, lim;
	long long v;
	bool neg = false;

	if (s == NULL || min > max)
		return CP_INPUT;
	if (*s == '-' && min < 0) {
		neg = true;
		s++;
	}
	if (*s == '\0')
		return CP_INPUT;
	/* Largest magnitude a long long of that sign holds: |LLONG_MIN| is
	 * LLONG_MAX + 1, written so that nothing overflows. */
	lim = neg ? (unsigned long long)LLONG_MAX + 1 :
	    (unsigned long long)LLONG_MAX;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return CP_INPUT;
		d = (unsigned)(*s - '0');
		if (mag > (lim - d) / 10)
			return CP_INPUT;
		mag = mag * 10 + d;
	}
	if (!neg)
		v = (long long)mag;
	else if (mag == 0)
		v = 0;
	else
		v = -(long long)(mag - 1) - 1;
	if (v < min || v > max)
		return CP_INPUT;
	*out = v;
	return CP_OK;
}
