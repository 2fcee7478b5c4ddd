#include "phone.h"

#include <string.h>

bool
phone_e164(const char *s)
{
	size_t digits;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	digits = strlen(s + 1);
	return digits >= PHONE_E164_MIN_DIGITS &&
	    digits <= PHONE_E164_MAX_DIGITS &&
	    strspn(s + 1, "0123456789") == digits;
}
