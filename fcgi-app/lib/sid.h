/*
 * sid.h: Twilio SIDs and enum tokens. A SID is a two-letter prefix followed by exactly 32
 * lowercase hex digits (TWILIO.md "SIDs": CallSid CA, AccountSid AC,
 * RecordingSid RE). Every SID from a request is checked here before it
 * touches SQL, a file path or a log line.
 */
#ifndef CP_SID_H
#define CP_SID_H

#include <stdbool.h>

#define SID_LEN 34  /* characters, without the NUL */

/* True when s is prefix (2 chars, e.g. "CA") + 32 lowercase hex digits. */
bool sid_valid(const char *s, const char *prefix);

/*
 * v when it is a Twilio enum value as callpipe stores it (Direction,
 * CallStatus, a Call resource's direction and status): lowercase letters
 * and '-', 1 to 32 bytes; else NULL. Twilio may add values; an odd one is
 * stored as NULL rather than refusing the call.
 */
const char *sid_token(const char *v);

#endif
