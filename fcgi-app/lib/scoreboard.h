/*
 * scoreboard.h: the shared-memory counters of callpipe-fcgi's processes,
 * modelled on php-fpm's scoreboard (sapi/fpm/fpm/fpm_scoreboard.c: one
 * mapping the master creates before forking, one slot per process).
 *
 * The master creates a memfd (memfd_create(2)) before its first fork and
 * maps it MAP_SHARED. Forked FastCGI children inherit the mapping.
 * callpipe-worker processes are started with exec, which drops mappings,
 * so the master hands them the memfd itself: just before execv the child
 * clears FD_CLOEXEC on it and puts its number in the environment variable
 * CALLPIPE_SCOREBOARD_FD and its slot in CALLPIPE_SCOREBOARD_SLOT; the
 * worker maps it (scoreboard_attach_env) and closes the fd.
 *
 * Each slot has exactly one writer, the process it belongs to, and holds
 * SB_NCOUNTERS C11 atomic counters (stdatomic, relaxed order: each counter
 * is read whole, none is ordered against another); no locks. metrics.c
 * says what each counter index means. When the master reaps a process it
 * adds that slot's counts into the retired total (in the mapping, written
 * by the master only) and zeroes and frees the slot, so the sum of the
 * live slots and the retired total never goes down. Readers (GET
 * /metrics in any child) sum under a sequence counter the master bumps
 * around each fold, so a fold in progress is never seen half done.
 *
 * A process that has no slot (callpipe-worker run on its own, callpipectl,
 * unit tests, a spawn that found no free slot) counts into a private
 * board that nobody reads: its counts are not served.
 */
#ifndef CP_SCOREBOARD_H
#define CP_SCOREBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cp_err.h"

/* Counters per slot (metrics.c lays its series out in them). */
#define SB_NCOUNTERS 1024
/* Slots beyond children + workers: a respawn never waits for a slot even
 * while a dead process is not reaped yet. */
#define SB_SPARE_SLOTS 4

/* The environment variables a worker finds its scoreboard in. */
#define SB_ENV_FD   "CALLPIPE_SCOREBOARD_FD"
#define SB_ENV_SLOT "CALLPIPE_SCOREBOARD_SLOT"

/* What runs in a slot. */
enum sb_proc { SB_CHILD = 0, SB_WORKER, SB_NPROC };
/* Why the master started a process again: it exited 0 (a child after
 * fcgi.max_requests) or it died (a signal, another status). */
enum sb_cause { SB_RECYCLED = 0, SB_DIED, SB_NCAUSE };

/* Totals as read at one moment (scoreboard_read). */
struct sb_totals {
	unsigned long long v[SB_NCOUNTERS];   /* live slots + retired */
	int                alive[SB_NPROC];   /* slots held by a process */
	unsigned long long respawns[SB_NPROC][SB_NCAUSE];
};

/*
 * Master, before the first fork: creates the memfd (MFD_CLOEXEC: only the
 * worker branch passes it on) of nslots slots, sizes it (ftruncate) and
 * maps it shared. The mapping lives until the process exits (children
 * and the master share it to the end). Returns CP_OK; CP_INPUT (nslots < 1
 * or more than 4096); CP_SYSTEM (memfd_create, ftruncate or mmap failed;
 * errno says why). Called again it is CP_OK and changes nothing.
 */
enum cp_err scoreboard_create(int nslots);

/*
 * Master: reserves a free slot for a process of kind about to be forked.
 * Returns the slot index, or -1 when there is no board or no free slot
 * (logged; the process then counts privately).
 */
int scoreboard_slot_take(enum sb_proc kind);

/* Master: the fork of slot idx (from scoreboard_slot_take) made pid. */
void scoreboard_slot_started(int idx, pid_t pid);

/* Master: the fork for slot idx failed: the slot is free again. */
void scoreboard_slot_release(int idx);

/*
 * In the new process right after fork: counts into slot idx from now on
 * (idx -1: privately). will_exec: the process is about to exec a worker,
 * so the memfd loses FD_CLOEXEC and SB_ENV_FD / SB_ENV_SLOT are set in
 * the environment. Otherwise (a FastCGI child, which keeps the mapping)
 * and without a slot, the memfd is closed here. Errors (setenv, fcntl)
 * are logged; the worker then counts privately.
 */
void scoreboard_after_fork(int idx, bool will_exec);

/*
 * Master, after waitpid reaped pid: folds its slot into the retired total
 * and frees the slot; respawn: the master starts the process again, which
 * counts one respawn of the slot's kind and cause. A pid that holds no
 * slot changes nothing.
 */
void scoreboard_reaped(pid_t pid, bool respawn, enum sb_cause cause);

/*
 * A worker at start-up: maps the scoreboard named by SB_ENV_FD and
 * SB_ENV_SLOT, closes the fd and removes both variables (programs it
 * runs do not inherit them). The fd is closed whenever SB_ENV_FD names
 * one above 2, on errors too (a worker never keeps the memfd); 0, 1 and
 * 2 are never closed (CP_INPUT). Returns CP_OK; CP_NOTFOUND (SB_ENV_FD is
 * absent: a worker run on its own, counting privately); CP_INPUT (a
 * variable is malformed or missing, the fd is no scoreboard or the slot
 * is out of range); CP_SYSTEM (fstat or mmap failed). On any error the
 * process counts privately.
 */
enum cp_err scoreboard_attach_env(void);

/* Whether this process's counts reach the shared board (and so /metrics). */
bool scoreboard_shared(void);

/* Adds n to counter idx (< SB_NCOUNTERS) of this process's slot. */
void scoreboard_add(size_t idx, unsigned long long n);

/*
 * Reads the totals: every slot plus the retired total, the processes
 * alive by kind and the respawns, consistent with respect to folds (a
 * fold in progress is waited out). Returns CP_OK; CP_NOTFOUND (this
 * process has no shared board); CP_BUSY (a fold never ended: the master
 * died inside one).
 */
enum cp_err scoreboard_read(struct sb_totals *out);

#endif
