/*
 * utf8.h: the one UTF-8 decoder (RFC 3629).
 *
 * Well-formed means RFC 3629 §4's table: no overlong forms (C0, C1, E0
 * 80..9F, F0 80..8F), no surrogates U+D800..U+DFFF (ED A0..BF), nothing
 * above U+10FFFF (F4 90.. and F5..FF), and every sequence complete. An
 * overlong '/' or space must never pass for one: conf.c refuses such text,
 * summary.c must not see a word boundary in it, MySQL refuses the row.
 *
 * Decoders take a buffer and its length (NUL is U+0000, not an end) and
 * never read past it.
 */
#ifndef CP_UTF8_H
#define CP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the decoders return for a byte that starts no well-formed
 * sequence: above every code point. */
#define UTF8_INVALID 0x110000u

/*
 * Decodes the sequence that starts at s[i] (i < n). *len gets its length
 * in bytes, 1..4. Returns the code point, or UTF8_INVALID with *len 1
 * when s[i] is a continuation byte, a lead byte that cannot start a
 * well-formed sequence, or the start of an overlong, surrogate, too large
 * or truncated one: a decoder resynchronises on the next byte.
 */
uint32_t utf8_decode(const char *s, size_t n, size_t i, size_t *len);

/*
 * Decodes the code point that ends right before s[i] (0 < i <= n).
 * *start gets the offset where it begins. A byte that is not the end of a
 * well-formed sequence is UTF8_INVALID, one byte long (*start = i - 1).
 */
uint32_t utf8_decode_before(const char *s, size_t n, size_t i, size_t *start);

/* True when the n bytes at s are well-formed UTF-8 (n == 0 is). */
bool utf8_valid(const char *s, size_t n);

/*
 * n bytes of s shortened so that they do not end inside a multi-byte
 * sequence: a lead byte at the end with fewer continuation bytes after it
 * than it announces is cut off with them. Well-formedness is not judged
 * otherwise (a run of continuation bytes alone is kept). For cutting text
 * to a column or buffer limit without making it invalid.
 */
size_t utf8_trim(const char *s, size_t n);

/*
 * Length in bytes of the longest prefix of the NUL-terminated s that is at
 * most max bytes and does not end inside a UTF-8 sequence (utf8_trim).
 */
size_t utf8_prefix(const char *s, size_t max);

#endif
