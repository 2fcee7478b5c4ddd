/*
 * scoreboard.c: the shared counters of callpipe-fcgi's processes (see
 * scoreboard.h). memfd_create(2) is a GNU/Linux call (glibc 2.27), hence
 * _GNU_SOURCE before any header.
 */
#define _GNU_SOURCE
#include "scoreboard.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_num.h"
#include "log.h"

#define SB_MAGIC     0x63707362u   /* "cpsb" */
#define SB_VERSION   1u
#define SB_MAX_SLOTS 4096
#define SB_PID_RESERVED (-1)       /* taken, fork not returned yet */
#define SB_READ_TRIES 100000       /* scoreboard_read's retries of a fold */

struct sb_slot {
	_Atomic int   pid;       /* 0 free; written by the master only */
	_Atomic int   kind;      /* enum sb_proc; written by the master only */
	atomic_ullong v[SB_NCOUNTERS];   /* the process's own counters */
};

struct sb_map {
	uint32_t      magic, version;
	uint32_t      nslots, ncounters;
	atomic_uint   seq;       /* odd while the master folds a slot */
	atomic_ullong respawns[SB_NPROC][SB_NCAUSE];    /* master only */
	atomic_ullong retired[SB_NCOUNTERS];            /* master only */
	struct sb_slot slots[];
};

static struct sb_map *sb_map;      /* NULL: no shared board */
static size_t         sb_len;      /* bytes mapped */
static int            sb_fd = -1;  /* master: the memfd */
/* Where this process counts: its slot, or the private board. */
static atomic_ullong  sb_private[SB_NCOUNTERS];
static atomic_ullong *sb_self = sb_private;

static size_t
sb_size(uint32_t nslots)
{
	return sizeof(struct sb_map) + (size_t)nslots * sizeof(struct sb_slot);
}

enum cp_err
scoreboard_create(int nslots)
{
	void *p;
	int fd;

	if (sb_map != NULL)
		return CP_OK;
	if (nslots < 1 || nslots > SB_MAX_SLOTS)
		return CP_INPUT;
	if ((fd = memfd_create("callpipe-scoreboard", MFD_CLOEXEC)) < 0)
		return CP_SYSTEM;
	if (ftruncate(fd, (off_t)sb_size((uint32_t)nslots)) != 0)
		goto fail;
	p = mmap(NULL, sb_size((uint32_t)nslots), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	/* ftruncate's pages read as zero: every counter and pid starts at 0. */
	sb_map = p;
	sb_len = sb_size((uint32_t)nslots);
	sb_map->magic = SB_MAGIC;
	sb_map->version = SB_VERSION;
	sb_map->nslots = (uint32_t)nslots;
	sb_map->ncounters = SB_NCOUNTERS;
	sb_fd = fd;
	return CP_OK;
fail:
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return CP_SYSTEM;
}

int
scoreboard_slot_take(enum sb_proc kind)
{
	if (sb_map == NULL)
		return -1;
	for (uint32_t i = 0; i < sb_map->nslots; i++) {
		struct sb_slot *s = &sb_map->slots[i];
		if (atomic_load_explicit(&s->pid, memory_order_relaxed) == 0) {
			atomic_store_explicit(&s->kind, (int)kind,
			    memory_order_relaxed);
			atomic_store_explicit(&s->pid, SB_PID_RESERVED,
			    memory_order_release);
			return (int)i;
		}
	}
	log_warn("scoreboard: all %u slots are taken; the new process's counts "
	    "are not served", sb_map->nslots);
	return -1;
}

void
scoreboard_slot_started(int idx, pid_t pid)
{
	if (sb_map != NULL && idx >= 0 && (uint32_t)idx < sb_map->nslots)
		atomic_store_explicit(&sb_map->slots[idx].pid, (int)pid,
		    memory_order_release);
}

void
scoreboard_slot_release(int idx)
{
	if (sb_map != NULL && idx >= 0 && (uint32_t)idx < sb_map->nslots)
		atomic_store_explicit(&sb_map->slots[idx].pid, 0,
		    memory_order_release);
}

void
scoreboard_after_fork(int idx, bool will_exec)
{
	char num[24];
	int fl;

	if (sb_map == NULL || idx < 0 || (uint32_t)idx >= sb_map->nslots) {
		/* No slot: the process counts privately and needs no fd (a
		 * worker's would be closed by its exec anyway, MFD_CLOEXEC). */
		sb_self = sb_private;
		if (sb_fd >= 0) {
			close(sb_fd);
			sb_fd = -1;
		}
		return;
	}
	sb_self = sb_map->slots[idx].v;
	if (!will_exec) {
		/* A FastCGI child has the mapping and never passes the board
		 * on: the memfd would only be one more fd open in it. */
		close(sb_fd);
		sb_fd = -1;
		return;
	}
	/* The fd number the worker will find, kept across execv. */
	if ((fl = fcntl(sb_fd, F_GETFD)) < 0 ||
	    fcntl(sb_fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) {
		log_warn("scoreboard: fcntl: %s; the worker counts privately",
		    strerror(errno));
		return;
	}
	cp_fmt(num, sizeof(num), "%d", sb_fd);
	if (setenv(SB_ENV_FD, num, 1) != 0) {
		log_warn("scoreboard: setenv: %s", strerror(errno));
		return;
	}
	cp_fmt(num, sizeof(num), "%d", idx);
	if (setenv(SB_ENV_SLOT, num, 1) != 0)
		log_warn("scoreboard: setenv: %s", strerror(errno));
}

void
scoreboard_reaped(pid_t pid, bool respawn, enum sb_cause cause)
{
	struct sb_slot *s = NULL;
	unsigned int seq;
	int kind;

	if (sb_map == NULL || pid <= 0)
		return;
	for (uint32_t i = 0; i < sb_map->nslots && s == NULL; i++)
		if (atomic_load_explicit(&sb_map->slots[i].pid,
		    memory_order_relaxed) == (int)pid)
			s = &sb_map->slots[i];
	if (s == NULL)
		return;
	/* Seqlock writer (the master is the only one): odd while the counts
	 * move from the slot to the retired total. The process is dead, so
	 * nobody else writes the slot now. */
	seq = atomic_load_explicit(&sb_map->seq, memory_order_relaxed);
	atomic_store_explicit(&sb_map->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < SB_NCOUNTERS; i++) {
		unsigned long long n = atomic_load_explicit(&s->v[i],
		    memory_order_relaxed);
		if (n == 0)
			continue;
		atomic_store_explicit(&sb_map->retired[i],
		    atomic_load_explicit(&sb_map->retired[i],
		    memory_order_relaxed) + n, memory_order_relaxed);
		atomic_store_explicit(&s->v[i], 0, memory_order_relaxed);
	}
	/* The respawn and the freed slot belong to the same fold: a reader
	 * never sees the counts moved but the process still alive, and a
	 * slot taken again afterwards (a new kind) makes it read again. */
	kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
	if (respawn && kind >= 0 && kind < SB_NPROC && cause < SB_NCAUSE)
		atomic_store_explicit(&sb_map->respawns[kind][cause],
		    atomic_load_explicit(&sb_map->respawns[kind][cause],
		    memory_order_relaxed) + 1, memory_order_relaxed);
	atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&sb_map->seq, seq + 2, memory_order_release);
}

/* Closes the passed fd (errno kept) and returns rc. */
static enum cp_err
sb_close(long long fd, enum cp_err rc)
{
	int saved = errno;

	close((int)fd);
	errno = saved;
	return rc;
}

static enum cp_err
sb_env_int(const char *name, long long max, long long *out)
{
	const char *v = getenv(name);

	if (v == NULL)
		return CP_NOTFOUND;
	return cp_parse_ll(v, 0, max, out) == CP_OK ? CP_OK : CP_INPUT;
}

enum cp_err
scoreboard_attach_env(void)
{
	long long fd = -1, slot = 0;
	struct stat st;
	struct sb_map *m;
	enum cp_err rc;

	rc = sb_env_int(SB_ENV_FD, 1 << 20, &fd);
	if (rc == CP_OK && (rc = sb_env_int(SB_ENV_SLOT, SB_MAX_SLOTS - 1,
	    &slot)) == CP_NOTFOUND)
		rc = CP_INPUT;
	if (rc == CP_NOTFOUND)
		return rc;
	/* Gone on every path: programs the worker runs never see them. */
	(void)unsetenv(SB_ENV_FD);
	(void)unsetenv(SB_ENV_SLOT);
	if (rc != CP_OK)
		return fd > STDERR_FILENO ? sb_close(fd, rc) : rc;
	/* stdin, stdout and stderr are never the board: not ours to close. */
	if (fd <= STDERR_FILENO)
		return CP_INPUT;
	if (fstat((int)fd, &st) != 0) {
		rc = CP_SYSTEM;
		goto out;
	}
	if ((size_t)st.st_size < sizeof(struct sb_map)) {
		rc = CP_INPUT;
		goto out;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    (int)fd, 0);
	if (m == MAP_FAILED) {
		rc = CP_SYSTEM;
		goto out;
	}
	if (m->magic != SB_MAGIC || m->version != SB_VERSION ||
	    m->ncounters != SB_NCOUNTERS || m->nslots > SB_MAX_SLOTS ||
	    sb_size(m->nslots) != (size_t)st.st_size ||
	    (uint32_t)slot >= m->nslots) {
		munmap(m, (size_t)st.st_size);
		rc = CP_INPUT;
		goto out;
	}
	sb_map = m;
	sb_len = (size_t)st.st_size;
	sb_self = m->slots[slot].v;
	rc = CP_OK;
out:
	close((int)fd);
	return rc;
}

bool
scoreboard_shared(void)
{
	return sb_map != NULL && sb_self != sb_private;
}

void
scoreboard_add(size_t idx, unsigned long long n)
{
	atomic_ullong *c;

	if (idx >= SB_NCOUNTERS)
		return;
	c = &sb_self[idx];
	/* The slot's only writer: a load and a store, no read-modify-write
	 * (no locked instruction on the request path). */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
	    + n, memory_order_relaxed);
}

enum cp_err
scoreboard_read(struct sb_totals *out)
{
	unsigned int s1, s2;

	if (sb_map == NULL)
		return CP_NOTFOUND;
	for (long tries = 0;; tries++) {
		/* A fold takes microseconds; a master that died in one (the
		 * children get SIGTERM then) never finishes it. */
		if (tries >= SB_READ_TRIES)
			return CP_BUSY;
		s1 = atomic_load_explicit(&sb_map->seq, memory_order_acquire);
		if (s1 & 1u) {
			sched_yield();
			continue;
		}
		memset(out, 0, sizeof(*out));
		for (size_t i = 0; i < SB_NCOUNTERS; i++)
			out->v[i] = atomic_load_explicit(&sb_map->retired[i],
			    memory_order_relaxed);
		for (uint32_t j = 0; j < sb_map->nslots; j++) {
			struct sb_slot *s = &sb_map->slots[j];
			int pid = atomic_load_explicit(&s->pid,
			    memory_order_acquire);
			int kind = atomic_load_explicit(&s->kind,
			    memory_order_relaxed);
			for (size_t i = 0; i < SB_NCOUNTERS; i++)
				out->v[i] += atomic_load_explicit(&s->v[i],
				    memory_order_relaxed);
			if (pid != 0 && kind >= 0 && kind < SB_NPROC)
				out->alive[kind]++;
		}
		for (int k = 0; k < SB_NPROC; k++)
			for (int c = 0; c < SB_NCAUSE; c++)
				out->respawns[k][c] = atomic_load_explicit(
				    &sb_map->respawns[k][c], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&sb_map->seq, memory_order_relaxed);
		if (s1 == s2)
			return CP_OK;
	}
}
