/*
 * cp_num.h: the one range-checked number parser (curl's way: strtol and
 * its family are banned elsewhere by tests/unit/check-banned.sh).
 *
 * strtol accepts what no field of ours holds: leading white space, a '+',
 * "0x" (base 0), trailing junk unless end is checked, and it reports
 * overflow only through errno. Every number callpipe reads from the wire
 * (Content-Length, Twilio's form fields), from argv or from a database
 * cell goes through cp_parse_ll instead.
 */
#ifndef CP_NUM_H
#define CP_NUM_H

#include "cp_err.h"

/*
 * Parses s as a decimal integer in [min, max] into *out.
 * Accepted: one or more ASCII digits, the whole string (leading zeros
 * allowed: "007" is 7); a leading '-' only when min < 0. Refused: NULL,
 * "", white space anywhere, '+', any other byte, a value outside
 * [min, max] and one that does not fit a long long.
 * Returns CP_OK with *out set, or CP_INPUT with *out untouched.
 */
enum cp_err cp_parse_ll(const char *s, long long min, long long max,
    long long *out);

#endif
