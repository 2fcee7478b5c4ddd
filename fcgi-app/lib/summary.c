/*
 * summary.c: the "rules" summary backend (summary.h, DESIGN.md §5 stage 3):
 * gazetteer matching over the merged transcript and a template summary,
 * and the whole-answer gazetteer lookup the openai backend stores its
 * answers by (summary_gazetteer_match). The table of backends is in
 * summary_backends.c, so this file depends on no backend.
 *
 * Matching rules, and why:
 * - Terms are compared ASCII case-insensitively; other bytes exactly. No
 *   locale is involved (tolower() depends on it), and Hebrew has no case.
 * - A term matches only on word boundaries, so "pipe" does not match in
 *   "pipeline" nor "haifa" in "Haifaville". Word characters are ASCII
 *   letters and digits and every non-ASCII code point except a short list
 *   of punctuation (Latin-1 signs, Hebrew maqaf/geresh/gershayim/sof pasuq,
 *   the General Punctuation block with its dashes, quotes and spaces).
 *   Bytes that are not valid UTF-8 count as letters: never a boundary.
 * - A Hebrew term (one whose first character is a Hebrew letter) also
 *   matches after exactly one of the prefix letters ב ל מ ה ו ש כ, which
 *   Hebrew writes joined to the next word ("בתל אביב" is "in Tel Aviv").
 * - Spaces and hyphens inside a term ("tel aviv", "tel-aviv") match one
 *   space, tab, hyphen or Hebrew maqaf (U+05BE) in the text.
 * - Within one entry, overlapping terms count once: at each position the
 *   longest matching term wins and the scan continues after it, so
 *   "rishon lezion" is one mention, not two ("rishon" is also a term).
 *
 * Scoring: a match on a "Caller:" line counts 2, on an "Agent:" line 1, on
 * an unlabelled line 1 (the caller says what they want; the agent often
 * repeats or suggests). The highest-scoring service and city win; a tie
 * goes to the entry listed first in the config.
 */
#include "summary.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

#define SUMMARY_QUOTE_MAX   200  /* bytes of the quoted caller line */
#define SUMMARY_CALLER_W    2
#define SUMMARY_OTHER_W     1

/* A gazetteer term prepared for matching: ASCII lower-cased, separators
 * (space, tab, hyphen, maqaf) collapsed into one ' '. */
struct summary_term {
	char  *s;
	size_t len;
	bool   hebrew;
};

struct summary_entry {
	struct summary_term *terms;
	size_t               nterms;
	long                 score;         /* weighted matches */
	long                 caller_score;  /* of which on Caller: lines */
};

struct summary_gaz {
	const struct conf_gazetteer *conf;
	struct summary_entry        *entries;  /* conf->nentries of them */
	size_t                       n;
};

static unsigned char
summary_fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool
summary_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

static bool
summary_is_word(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		    (cp >= 'A' && cp <= 'Z');
	if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
		return false;   /* C1 controls, NBSP, Latin-1 signs, × ÷ */
	if (cp == 0x05BE || cp == 0x05C0 || cp == 0x05C3 || cp == 0x05C6 ||
	    cp == 0x05F3 || cp == 0x05F4)
		return false;   /* Hebrew punctuation */
	if ((cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
	    cp == 0xFEFF)
		return false;   /* General and CJK punctuation, BOM */
	return true;
}

static bool
summary_is_hebrew_letter(uint32_t cp)
{
	return cp >= 0x05D0 && cp <= 0x05EA;
}

static bool
summary_is_hebrew_prefix(uint32_t cp)
{
	/* ב ה ו כ ל מ ש */
	return cp == 0x05D1 || cp == 0x05D4 || cp == 0x05D5 || cp == 0x05DB ||
	    cp == 0x05DC || cp == 0x05DE || cp == 0x05E9;
}

/* Length of the separator at s[i] that a ' ' in a term stands for, or 0. */
static size_t
summary_sep_len(const unsigned char *s, size_t n, size_t i)
{
	if (i >= n)
		return 0;
	if (s[i] == ' ' || s[i] == '\t' || s[i] == '-')
		return 1;
	if (s[i] == 0xD6 && i + 1 < n && s[i + 1] == 0xBE)
		return 2;       /* U+05BE HEBREW PUNCTUATION MAQAF */
	return 0;
}

static bool
summary_boundary_before(const unsigned char *s, size_t n, size_t pos,
    bool hebrew)
{
	size_t start, ignored;
	uint32_t cp;

	if (pos == 0)
		return true;
	cp = utf8_decode_before((const char *)s, n, pos, &start);
	if (!summary_is_word(cp))
		return true;
	if (!hebrew || !summary_is_hebrew_prefix(cp))
		return false;
	return start == 0 ||
	    !summary_is_word(utf8_decode_before((const char *)s, n, start,
	    &ignored));
}

static bool
summary_boundary_after(const unsigned char *s, size_t n, size_t end)
{
	size_t clen;

	return end >= n ||
	    !summary_is_word(utf8_decode((const char *)s, n, end, &clen));
}

/* End offset of term t matched at s[pos], or 0 when it does not match. */
static size_t
summary_match(const unsigned char *s, size_t n, size_t pos,
    const struct summary_term *t)
{
	size_t i = pos, j, sep;

	for (j = 0; j < t->len; j++) {
		if (t->s[j] == ' ') {
			sep = summary_sep_len(s, n, i);
			if (sep == 0)
				return 0;
			i += sep;
		} else if (i >= n ||
		    summary_fold(s[i]) != (unsigned char)t->s[j])
			return 0;
		else
			i++;
	}
	if (!summary_boundary_after(s, n, i) ||
	    !summary_boundary_before(s, n, pos, t->hebrew))
		return 0;
	return i;
}

/* Prepares raw into t; t->s NULL (and CP_OK) when raw has no letters. */
static enum cp_err
summary_term_prepare(const char *raw, struct summary_term *t)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t n = strlen(raw), i, o = 0, clen;
	bool sep = false;

	t->s = malloc(n + 1);
	t->len = 0;
	t->hebrew = false;
	if (t->s == NULL)
		return CP_NOMEM;
	for (i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '-' ||
		    (p[i] == 0xD6 && i + 1 < n && p[i + 1] == 0xBE)) {
			if (p[i] == 0xD6)
				i++;
			sep = true;
			continue;
		}
		if (sep && o > 0)
			t->s[o++] = ' ';
		sep = false;
		t->s[o++] = (char)summary_fold(p[i]);
	}
	t->s[o] = '\0';
	t->len = o;
	if (o == 0) {
		free(t->s);
		t->s = NULL;
		return CP_OK;
	}
	t->hebrew = summary_is_hebrew_letter(utf8_decode(t->s, o, 0, &clen));
	return CP_OK;
}

static void
summary_gaz_free(struct summary_gaz *g)
{
	size_t i, j;

	for (i = 0; i < g->n; i++) {
		for (j = 0; j < g->entries[i].nterms; j++)
			free(g->entries[i].terms[j].s);
		free(g->entries[i].terms);
	}
	free(g->entries);
	g->entries = NULL;
	g->n = 0;
}

static enum cp_err
summary_gaz_prepare(const struct conf_gazetteer *c, struct summary_gaz *g)
{
	const struct conf_gazetteer_entry *ce;
	struct summary_entry *e;
	size_t i, j, nt;
	enum cp_err err;

	g->conf = c;
	g->entries = NULL;
	g->n = 0;
	if (c == NULL || c->nentries <= 0 || c->entries == NULL)
		return CP_OK;
	g->entries = calloc((size_t)c->nentries, sizeof(*g->entries));
	if (g->entries == NULL)
		return CP_NOMEM;
	g->n = (size_t)c->nentries;
	for (i = 0; i < g->n; i++) {
		ce = &c->entries[i];
		e = &g->entries[i];
		nt = 0;
		while (ce->terms != NULL && (int)nt < ce->nterms &&
		    ce->terms[nt] != NULL)
			nt++;
		if (nt == 0)
			continue;
		e->terms = calloc(nt, sizeof(*e->terms));
		if (e->terms == NULL) {
			summary_gaz_free(g);
			return CP_NOMEM;
		}
		for (j = 0; j < nt; j++) {
			err = summary_term_prepare(ce->terms[j],
			    &e->terms[e->nterms]);
			if (err != CP_OK) {
				summary_gaz_free(g);
				return err;
			}
			if (e->terms[e->nterms].s != NULL)
				e->nterms++;
		}
	}
	return CP_OK;
}

/* Adds the matches of every entry of g in the text s (n bytes). */
static void
summary_gaz_scan(struct summary_gaz *g, const unsigned char *s, size_t n,
    long weight, bool caller)
{
	struct summary_entry *e;
	size_t i, k, pos, end, best;

	for (i = 0; i < g->n; i++) {
		e = &g->entries[i];
		pos = 0;
		while (pos < n) {
			/* Terms begin on a character, never inside one. */
			if ((s[pos] & 0xC0) == 0x80) {
				pos++;
				continue;
			}
			best = 0;
			for (k = 0; k < e->nterms; k++) {
				end = summary_match(s, n, pos, &e->terms[k]);
				if (end > best)
					best = end;
			}
			if (best == 0) {
				pos++;
				continue;
			}
			e->score += weight;
			if (caller)
				e->caller_score += weight;
			pos = best;
		}
	}
}

/*
 * The winning entry of g (-1 when nothing matched) and its share of the
 * confidence, 0.0 .. 1.0: 1.0 when the caller said it and no other entry
 * scored, times 0.7 when only the agent (or an unlabelled line) said it,
 * times (1 - 0.5 * runner_up / winner) when another entry also scored, so
 * a tie broken by config order halves it.
 */
static int
summary_gaz_winner(const struct summary_gaz *g, double *part)
{
	long best = 0, second = 0;
	int win = -1;
	size_t i;

	*part = 0.0;
	for (i = 0; i < g->n; i++) {
		long sc = g->entries[i].score;

		if (sc > best) {
			second = best;
			best = sc;
			win = (int)i;
		} else if (sc > second)
			second = sc;
	}
	if (win < 0)
		return -1;
	*part = g->entries[win].caller_score > 0 ? 1.0 : 0.7;
	*part *= 1.0 - 0.5 * (double)second / (double)best;
	return win;
}

/* malloc'd printf; NULL when out of memory. */
static char *
summary_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
summary_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	(void)vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* "plumber (אינסטלטור)", or the name alone when there is no Hebrew name. */
static char *
summary_named(const struct conf_gazetteer_entry *e)
{
	const char *name = e->name != NULL ? e->name : "";

	if (e->name_he != NULL && e->name_he[0] != '\0')
		return summary_printf("%s (%s)", name, e->name_he);
	return summary_printf("%s", name);
}

/*
 * The English article before a service name: none for an activity
 * ("cleaning"), "an" before a vowel ("an electrician"), else "a". A
 * spelling heuristic: the gazetteer's names are short English nouns.
 */
static const char *
summary_article(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;
	unsigned char c;

	if (n == 0)
		return "";
	if (n > 3 && strcasecmp(name + n - 3, "ing") == 0)
		return "";
	c = summary_fold((unsigned char)name[0]);
	if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u')
		return "an ";
	return "a ";
}

/* s (n bytes) without leading and trailing ASCII whitespace. */
static const unsigned char *
summary_trim(const unsigned char *s, size_t *n)
{
	while (*n > 0 && summary_is_space(s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && summary_is_space(s[*n - 1]))
		(*n)--;
	return s;
}

/* Length of the first at most SUMMARY_QUOTE_MAX bytes of s (n bytes)
 * that end on a UTF-8 character boundary. */
static size_t
summary_quote_len(const unsigned char *s, size_t n)
{
	size_t cut;

	if (n <= SUMMARY_QUOTE_MAX)
		return n;
	cut = SUMMARY_QUOTE_MAX;
	while (cut > 0 && (s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

static char *
summary_compose(const struct summary_gaz *svc, int sw,
    const struct summary_gaz *city, int cw, const char *quote_label,
    const unsigned char *quote, size_t quote_n)
{
	char *sname = NULL, *cname = NULL, *first = NULL, *all = NULL;
	const char *article = "";
	size_t qlen;

	if (sw >= 0) {
		sname = summary_named(&svc->conf->entries[sw]);
		article = summary_article(svc->conf->entries[sw].name);
	}
	if (cw >= 0)
		cname = summary_named(&city->conf->entries[cw]);
	if ((sw >= 0 && sname == NULL) || (cw >= 0 && cname == NULL))
		goto out;

	if (sname != NULL && cname != NULL)
		first = summary_printf("The caller asked for %s%s in %s.",
		    article, sname, cname);
	else if (sname != NULL)
		first = summary_printf("The caller asked for %s%s;"
		    " no city was recognised.", article, sname);
	else if (cname != NULL)
		first = summary_printf("The call concerned %s;"
		    " no service was recognised.", cname);
	else
		first = summary_printf("No service or city was recognised.");
	if (first == NULL)
		goto out;

	if (quote_label == NULL) {
		all = summary_printf("%s No caller speech was transcribed.",
		    first);
		goto out;
	}
	qlen = summary_quote_len(quote, quote_n);
	all = summary_printf("%s %s: \"%.*s%s\"", first, quote_label,
	    (int)qlen, (const char *)quote, qlen < quote_n ? "..." : "");
out:
	free(sname);
	free(cname);
	free(first);
	return all;
}

enum cp_err
summary_rules(const struct cp_conf *conf, const char *transcript,
    struct summary_result *out, char *err, size_t errlen)
{
	struct summary_gaz svc = { NULL, NULL, 0 }, city = { NULL, NULL, 0 };
	const unsigned char *p, *end, *line, *eol;
	const unsigned char *caller_q = NULL, *plain_q = NULL;
	size_t n, caller_qn = 0, plain_qn = 0;
	bool any = false, caller, agent;
	double ps = 0.0, pc = 0.0, hi, lo;
	int sw, cw;
	long w;
	enum cp_err rc;

	memset(out, 0, sizeof(*out));
	if (transcript == NULL)
		transcript = "";

	rc = summary_gaz_prepare(conf != NULL ? &conf->summary.services : NULL,
	    &svc);
	if (rc == CP_OK)
		rc = summary_gaz_prepare(conf != NULL ?
		    &conf->summary.cities : NULL, &city);
	if (rc != CP_OK)
		goto fail;

	p = (const unsigned char *)transcript;
	end = p + strlen(transcript);
	for (line = p; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - line);
		p = summary_trim(line, &n);
		caller = false;
		agent = false;
		w = SUMMARY_OTHER_W;
		if (n >= 7 && strncasecmp((const char *)p, "caller:", 7) == 0) {
			caller = true;
			w = SUMMARY_CALLER_W;
			p += 7;
			n -= 7;
		} else if (n >= 6 &&
		    strncasecmp((const char *)p, "agent:", 6) == 0) {
			agent = true;
			p += 6;
			n -= 6;
		}
		p = summary_trim(p, &n);
		if (n == 0) {
			if (eol == end)
				break;
			continue;
		}
		any = true;
		/* The quote is the caller's first line; a transcript without
		 * speaker labels quotes its first line instead. */
		if (caller && caller_q == NULL) {
			caller_q = p;
			caller_qn = n;
		} else if (!caller && !agent && plain_q == NULL) {
			plain_q = p;
			plain_qn = n;
		}
		summary_gaz_scan(&svc, p, n, w, caller);
		summary_gaz_scan(&city, p, n, w, caller);
		if (eol == end)
			break;
	}
	if (!any) {
		rc = CP_EMPTY;
		if (err != NULL)
			cp_fmt(err, errlen,
			    "transcript is empty: nothing to summarize");
		goto out;
	}

	sw = summary_gaz_winner(&svc, &ps);
	cw = summary_gaz_winner(&city, &pc);
	/*
	 * confidence = 0.5 * max(parts) + 0.4 * min(parts), each part as
	 * summary_gaz_winner() says: 0.0 when nothing matched, 0.5 for a
	 * service or a city the caller named without a rival, 0.9 for both,
	 * 0.35 for one only the agent named. Rounded to 0.01 for the
	 * extraction_confidence column.
	 */
	hi = ps > pc ? ps : pc;
	lo = ps > pc ? pc : ps;
	out->confidence = (double)(long)((0.5 * hi + 0.4 * lo) * 100.0 + 0.5) /
	    100.0;

	rc = CP_NOMEM;
	if (sw >= 0 && svc.conf->entries[sw].name != NULL &&
	    (out->service = strdup(svc.conf->entries[sw].name)) == NULL)
		goto fail;
	if (cw >= 0 && city.conf->entries[cw].name != NULL &&
	    (out->city = strdup(city.conf->entries[cw].name)) == NULL)
		goto fail;
	if (caller_q != NULL)
		out->summary = summary_compose(&svc, sw, &city, cw,
		    "Caller said", caller_q, caller_qn);
	else
		out->summary = summary_compose(&svc, sw, &city, cw,
		    plain_q != NULL ? "Transcript begins" : NULL, plain_q,
		    plain_qn);
	if (out->summary == NULL)
		goto fail;
	rc = CP_OK;
	goto out;
fail:
	if (err != NULL)
		cp_fmt(err, errlen, "summary: %s", cp_strerror(rc));
	summary_result_free(out);
out:
	summary_gaz_free(&svc);
	summary_gaz_free(&city);
	return rc;
}

/*
 * The next byte of s in the form terms are compared in (summary_term_prepare):
 * ASCII lower-cased, every run of separators (space, tab, hyphen, maqaf,
 * other ASCII white space) one ' ', none at either end. *i is the read
 * offset in s (n bytes); returns 0 at the end.
 */
static unsigned char
summary_folded_next(const unsigned char *s, size_t n, size_t *i)
{
	size_t sep, k = *i;
	bool any = false;

	for (;;) {
		sep = summary_sep_len(s, n, k);
		if (sep == 0 && k < n && summary_is_space(s[k]))
			sep = 1;
		if (sep == 0)
			break;
		k += sep;
		any = true;
	}
	if (k >= n) {
		*i = n;
		return 0;
	}
	if (any && *i > 0) {
		*i = k;         /* the separator stands in front of s[k] */
		return ' ';
	}
	*i = k + 1;
	return summary_fold(s[k]);
}

/* True when a and b are equal once folded as summary_folded_next says. */
static bool
summary_folded_eq(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *)a;
	const unsigned char *pb = (const unsigned char *)b;
	size_t na = strlen(a), nb = strlen(b), ia = 0, ib = 0;
	unsigned char ca, cb;

	do {
		ca = summary_folded_next(pa, na, &ia);
		cb = summary_folded_next(pb, nb, &ib);
		if (ca != cb)
			return false;
	} while (ca != 0);
	return true;
}

const struct conf_gazetteer_entry *
summary_gazetteer_match(const struct conf_gazetteer *gz, const char *answer)
{
	const struct conf_gazetteer_entry *e;
	size_t i = 0;
	int k, t;

	if (gz == NULL || gz->entries == NULL || answer == NULL ||
	    summary_folded_next((const unsigned char *)answer, strlen(answer),
	    &i) == 0)
		return NULL;    /* nothing but separators names nothing */
	for (k = 0; k < gz->nentries; k++) {
		e = &gz->entries[k];
		if ((e->name != NULL && summary_folded_eq(e->name, answer)) ||
		    (e->name_he != NULL && summary_folded_eq(e->name_he, answer)))
			return e;
		for (t = 0; e->terms != NULL && t < e->nterms &&
		    e->terms[t] != NULL; t++)
			if (summary_folded_eq(e->terms[t], answer))
				return e;
	}
	return NULL;
}

void
summary_result_free(struct summary_result *r)
{
	if (r == NULL)
		return;
	free(r->service);
	free(r->city);
	free(r->summary);
	r->service = NULL;
	r->city = NULL;
	r->summary = NULL;
	r->confidence = 0.0;
}
