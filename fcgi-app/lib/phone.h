/*
 * phone.h: the one telephone number rule.
 *
 * Twilio sends a PSTN call's From and To in E.164 form, '+' and the
 * country code then the subscriber number, digits only ("+14158675309";
 * twilio.com/docs/voice/twiml "Request parameters", and TWILIO.md's
 * signature example). ITU-T Recommendation E.164 caps an international number at
 * 15 digits; a country code is 1 to 3 digits and never starts
 * with 0 (0 is no country code, "+0..." is no number). E.164 sets no
 * minimum; we ask for 2 digits, a country code and at least one more.
 * A SIP address ("sip:..."), a Client identity ("client:alice") or a
 * national number without '+' is not E.164: it is never looked up in
 * business_numbers, and callpipectl refuses to store one there.
 */
#ifndef CP_PHONE_H
#define CP_PHONE_H

#include <stdbool.h>

#define PHONE_E164_MIN_DIGITS 2
#define PHONE_E164_MAX_DIGITS 15   /* ITU-T E.164 */

/* True when s (may be NULL) is '+', a digit 1-9, then digits, 2 to 15
 * digits in all, and nothing else. */
bool phone_e164(const char *s);

#endif
