/*
 * download.c: GET /api/calls/<sid>/download (download.h).
 */
#include "download.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "callview.h"
#include "cp_num.h"
#include "form.h"
#include "jobs.h"
#include "log.h"
#include "sid.h"
#include "sign.h"
#include "store.h"

#define DOWNLOAD_POLL_MS    100  /* how often a waiting child looks for the file */
#define DOWNLOAD_BUSY_S     2    /* Retry-After when the file is being fetched */

/* The query of a download, parsed: format, and a signature's fields. */
struct download_query {
	enum store_format fmt;
	const char       *format;   /* "wav" | "mp3" */
	const char       *expires;  /* NULL unless signed */
	const char       *sig;      /* NULL unless signed */
};

/* Parses r's query into *q (strings point into r's decoded query).
 * CP_OK, or CP_INPUT with the reason (a 400) in reason (reasonlen bytes). */
static enum cp_err
download_query(struct req *r, struct download_query *q, char *reason,
    size_t reasonlen)
{
	static const char *const known[] = { "format", "expires", "sig", NULL };
	const struct form *f;

	memset(q, 0, sizeof(*q));
	if (req_query(r, &f) != CP_OK) {
		cp_fmt(reason, reasonlen, "malformed query string");
		return CP_INPUT;
	}
	for (size_t i = 0; i < f->n; i++) {
		const char *const *k;
		for (k = known; *k != NULL; k++)
			if (strcmp(*k, f->pairs[i].name) == 0)
				break;
		if (*k == NULL) {
			cp_fmt(reason, reasonlen, "unknown parameter %.64s (known: "
			    "format, expires, sig)", f->pairs[i].name);
			return CP_INPUT;
		}
		if (form_get(f, *k) != f->pairs[i].value) {
			cp_fmt(reason, reasonlen, "%s given twice", *k);
			return CP_INPUT;
		}
	}
	q->format = form_get(f, "format");
	if (q->format == NULL)
		q->format = "wav";
	if (store_format_parse(q->format, &q->fmt) != CP_OK) {
		cp_fmt(reason, reasonlen, "format must be wav or mp3");
		return CP_INPUT;
	}
	q->expires = form_get(f, "expires");
	q->sig = form_get(f, "sig");
	return CP_OK;
}

bool
download_is_signed(struct req *r)
{
	const struct form *f;

	if (req_query(r, &f) != CP_OK)
		return false;
	return form_get(f, "sig") != NULL || form_get(f, "expires") != NULL;
}

enum cp_err
download_signed_auth(struct req *r, char *reason, size_t reasonlen)
{
	struct download_query q;
	long long expires, business;
	enum cp_err rc;

	if ((rc = download_query(r, &q, reason, reasonlen)) != CP_OK)
		return rc;
	/* Expired is refused before anything is looked up. */
	if (q.expires == NULL || q.sig == NULL ||
	    cp_parse_ll(q.expires, 0, LLONG_MAX, &expires) != CP_OK) {
		cp_fmt(reason, reasonlen, "signed URL without a valid expires and "
		    "sig");
		return CP_FORBIDDEN;
	}
	if (expires < (long long)time(NULL)) {
		cp_fmt(reason, reasonlen, "signed URL expired");
		return CP_FORBIDDEN;
	}
	/* An unknown sid, another business's sid or a wrong signature all
	 * answer the same 403, so the answer tells nothing about which
	 * calls exist. (An unknown sid skips the HMAC, so it answers a few
	 * microseconds sooner; a CallSid has 128 random bits, so that tells
	 * no one a sid worth guessing.) */
	rc = sid_valid(r->sid, "CA") ?
	    callview_business(r->db, r->sid, &business) : CP_NOTFOUND;
	if (rc == CP_DB) {
		log_error("download %s: %s", r->sid, db_error(r->db));
		cp_fmt(reason, reasonlen, "database unavailable");
		return CP_DB;
	}
	if (rc != CP_OK || sign_download_check(r->conf, r->sid, q.format,
	    expires, business, q.sig) != CP_OK) {
		cp_fmt(reason, reasonlen, "signature does not match");
		return CP_FORBIDDEN;
	}
	r->business_id = business;
	return CP_OK;
}

/*
 * A waiting slot for a cache miss: one of fcgi.children - 1 lock files
 * in the cache directory, held with flock(2) while the child waits. The
 * kernel drops the lock when the child dies, so a killed child never
 * keeps a slot. *fd gets the held file, or -1 when every slot is taken
 * (or the children are 1: that one must stay free for webhooks).
 */
static void
download_slot_take(const struct cp_conf *conf, int *fd)
{
	char path[4096];

	*fd = -1;
	for (int i = 0; i < conf->fcgi.children - 1; i++) {
		int f;
		cp_fmt(path, sizeof(path), "%s/.miss-slot-%d",
		    conf->recording.cache_dir, i);
		f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f < 0) {
			log_warn("download: %s: %s", path, strerror(errno));
			return;
		}
		if (flock(f, LOCK_EX | LOCK_NB) == 0) {
			*fd = f;
			return;
		}
		close(f);
	}
}

/* Sleeps ms milliseconds. */
static void
download_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct download_refill {
	const struct cp_conf *conf;
	const char           *call_sid;
	const char           *recording_sid;
	enum store_format     fmt;
	bool                  pending;  /* out: this minute's job may still run */
};

static enum cp_err
download_refill_tx(struct db *db, void *arg, char *err, size_t errlen)
{
	struct download_refill *d = arg;

	(void)err;
	(void)errlen;
	return jobs_enqueue_refill(db, d->conf, d->call_sid, d->recording_sid,
	    d->fmt, &d->pending);
}

/*
 * The file is not in the cache: a refill_recording job fetches it (the
 * worker, never this child), and this child waits for it at most
 * recording.miss_wait_ms when a waiting slot is free. CP_OK with path set
 * when it appeared; CP_BUSY (no slot) or CP_AGAIN (not in time) for a 503.
 */
static enum cp_err
download_miss(struct req *r, const struct callview_download *dl,
    enum store_format fmt, char *path, size_t pathlen, long long *bytes,
    char *reason, size_t reasonlen)
{
	const struct cp_conf *conf = r->conf;
	struct download_refill d = { conf, r->sid, dl->recording_sid, fmt, false };
	char err[CP_REASON_MAX + 1] = "";
	long waited = 0;
	int slot;
	enum cp_err rc;

	if ((rc = db_tx(r->db, download_refill_tx, &d, err, sizeof(err))) !=
	    CP_OK) {
		log_error("download %s: queueing refill_recording: %s", r->sid,
		    err[0] ? err : cp_strerror(rc));
		cp_fmt(reason, reasonlen, "database unavailable");
		return CP_DB;
	}
	r->retry_after_s = DOWNLOAD_BUSY_S;
	if (!d.pending) {
		/* This minute's refill has failed for good (jobs.last_error
		 * says why): the next minute's request queues a new one. */
		cp_fmt(reason, reasonlen, "recording could not be fetched from "
		    "Twilio just now; try again in a minute");
		r->retry_after_s = 60;
		return CP_UPSTREAM;
	}
	download_slot_take(conf, &slot);
	if (slot < 0) {
		cp_fmt(reason, reasonlen, "recording is being fetched; try again "
		    "in %d s", DOWNLOAD_BUSY_S);
		return CP_BUSY;
	}
	rc = CP_AGAIN;
	while (waited < conf->recording.miss_wait_ms) {
		long step = conf->recording.miss_wait_ms - waited;
		if (step > DOWNLOAD_POLL_MS)
			step = DOWNLOAD_POLL_MS;
		download_sleep_ms(step);
		waited += step;
		if (store_cached(conf, dl->recording_sid, fmt, path, pathlen,
		    bytes) == CP_OK) {
			rc = CP_OK;
			break;
		}
	}
	close(slot);
	if (rc != CP_OK)
		cp_fmt(reason, reasonlen, "recording is being fetched; try again "
		    "in %d s", DOWNLOAD_BUSY_S);
	return rc;
}

enum cp_err
download_servable(const struct cp_conf *conf,
    const struct callview_download *dl, char *reason, size_t reasonlen)
{
	if (dl->age_s > (long long)conf->recording.retention_days * 86400) {
		cp_fmt(reason, reasonlen, "recording is past the retention period");
		return CP_GONE;
	}
	if (dl->deleted) {
		cp_fmt(reason, reasonlen, "recording was deleted by the retention "
		    "purge");
		return CP_GONE;
	}
	if (strcmp(dl->recording_status, "completed") != 0 ||
	    dl->recording_sid[0] == '\0') {
		cp_fmt(reason, reasonlen, "recording not available (recording %s)",
		    dl->recording_status);
		return CP_NOTFOUND;
	}
	return CP_OK;
}

enum cp_err
download_handle(struct req *r, int arg, char *reason, size_t reasonlen)
{
	const struct cp_conf *conf = r->conf;
	struct download_query q;
	struct callview_download dl;
	char path[4096], hdr[1024];
	long long bytes = 0;
	enum cp_err rc;

	(void)arg;
	if (!sid_valid(r->sid, "CA")) {
		cp_fmt(reason, reasonlen, "malformed call sid");
		return CP_INPUT;
	}
	if ((rc = download_query(r, &q, reason, reasonlen)) != CP_OK)
		return rc;
	if ((rc = callview_download_get(r->db, r->business_id, r->sid, &dl)) !=
	    CP_OK) {
		if (rc == CP_DB)
			log_error("download %s: %s", r->sid, db_error(r->db));
		cp_fmt(reason, reasonlen, "%s", rc == CP_NOTFOUND ?
		    "call not found" : "database unavailable");
		return rc;
	}
	if ((rc = download_servable(conf, &dl, reason, reasonlen)) != CP_OK)
		return rc;
	rc = store_cached(conf, dl.recording_sid, q.fmt, path, sizeof(path),
	    &bytes);
	if (rc == CP_NOTFOUND)
		rc = download_miss(r, &dl, q.fmt, path, sizeof(path), &bytes,
		    reason, reasonlen);
	else if (rc != CP_OK) {
		log_error("download %s: no cache path for %s", r->sid,
		    dl.recording_sid);
		cp_fmt(reason, reasonlen, "recording could not be served");
		rc = CP_SYSTEM;
	}
	if (rc != CP_OK)
		return rc;
	/* nginx serves the bytes (Range, sendfile) from its internal
	 * location; the headers here are kept on the final answer. */
	cp_fmt(hdr, sizeof(hdr), "X-Accel-Redirect: %s%s.%s\r\n"
	    "Cache-Control: private, max-age=0\r\n"
	    "Content-Disposition: inline; filename=\"%s.%s\"\r\n",
	    conf->recording.nginx_internal_prefix, dl.recording_sid,
	    store_ext(q.fmt), r->sid, store_ext(q.fmt));
	r->status = 200;
	FCGX_FPrintF(r->fr->out, "Status: 200 OK\r\nContent-Type: %s\r\n%s\r\n",
	    store_content_type(q.fmt), hdr);
	return CP_OK;
}
