/*
 * prefork.c: the callpipe-fcgi master and its children (see prefork.h).
 *
 * The shape is php-fpm's static process manager (sapi/fpm: fpm_signals.c,
 * fpm_children.c, fpm_process_ctl.c): signal handlers only record the
 * signal and write a byte to a self-pipe; the master's loop polls that pipe,
 * reaps with waitpid(-1, WNOHANG), logs how each process died, respawns it
 * (throttled when it keeps dying at once) and, on stop, escalates from
 * SIGTERM to SIGKILL after PREFORK_STOP_GRACE_MS.
 *
 * libfcgi 2.4.2 facts this file relies on (libfcgi/os_unix.c and
 * libfcgi/fcgiapp.c of FastCGI-Archives/fcgi2, the version Debian 12 ships):
 * - OS_LibInit, called by FCGX_Init, installs handlers (sa_flags 0) for
 *   SIGPIPE (empty), SIGUSR1 and SIGTERM (both set its shutdownPending
 *   flag) wherever the disposition is SIG_DFL or SIG_IGN. Checked on the
 *   Debian 12 build by querying sigaction before and after FCGX_Init: a
 *   SIG_IGN for SIGPIPE set before FCGX_Init is replaced, our own SIGTERM
 *   handler stays. So the child ignores SIGPIPE after FCGX_Init, and treats
 *   SIGUSR1 as libfcgi means it: leave gracefully.
 * - OS_Accept checks its shutdownPending flag, then calls accept(2); it
 *   retries accept after EINTR unless FCGI_FAIL_ACCEPT_ON_INTR is set or
 *   the flag is set. There is a window between the check and accept(2): a
 *   signal landing there is lost and the child blocks in accept.
 * - FCGX_Accept_r returns -errno when OS_Accept fails (e.g. -EAGAIN on a
 *   non-blocking listening socket) and changes no other state; it blocks
 *   reading the next request from a kept-alive connection (req.ipcFd >= 0).
 *
 * To close that window and to let a request in hand finish untouched, a
 * child keeps its stop signals (TERM, INT, QUIT, USR1) blocked except
 * inside pselect(2), which
 * waits for the listening socket (non-blocking, so a child that loses the
 * race for a connection gets EAGAIN instead of blocking) or for the kept
 * connection. An idle child therefore leaves as soon as the signal comes; a
 * busy one sees it after FCGX_Finish_r, and its request's system calls
 * (MySQL, curl) never fail with EINTR.
 */
#include "prefork.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <fcgiapp.h>

#include "app.h"
#include "db.h"
#include "log.h"
#include "priv.h"
#include "queue.h"
#include "scoreboard.h"

/* After SIGTERM, children and workers get this long before SIGKILL. */
#define PREFORK_STOP_GRACE_MS     10000
/* A child that dies (abnormally) sooner than this after its fork... */
#define PREFORK_FAST_DEATH_MS     1000
/* ...more than this many times in a row is respawned only after a delay. */
#define PREFORK_FAST_DEATHS_MAX   3
#define PREFORK_THROTTLE_MIN_MS   1000
#define PREFORK_THROTTLE_MAX_MS   30000
/* A dead worker is respawned after 1 s, doubling per quick death, capped. */
#define PREFORK_WORKER_BACKOFF_MIN_MS 1000
#define PREFORK_WORKER_BACKOFF_MAX_MS 60000
/* A worker that ran this long before dying starts its backoff afresh. */
#define PREFORK_WORKER_STABLE_MS  60000
/* Idle children look this often whether the master still exists. */
#define PREFORK_PARENT_CHECK_S    1
#define PREFORK_LISTEN_BACKLOG    SOMAXCONN

/* One supervised process: a FastCGI child or a callpipe-worker. */
struct prefork_slot {
	pid_t   pid;          /* 0: not running */
	int64_t started_ms;   /* monotonic time of the fork */
	int64_t respawn_ms;   /* pid == 0: start again at this monotonic time */
	int     quick_deaths; /* consecutive short lives (throttle/backoff) */
};

struct prefork_master {
	const struct cp_conf *conf;
	const struct priv    *priv;       /* who to become after the bind */
	const char           *worker_path;
	int                   listen_fd;
	dev_t                 sock_dev;   /* identify our socket file, so */
	ino_t                 sock_ino;   /* stop never unlinks another's */
	struct prefork_slot  *children;
	int                   nchildren;
	struct prefork_slot  *workers;
	int                   nworkers;
	int                   stopping;
	int                   killed;     /* SIGKILL already sent */
	int64_t               kill_at_ms;
};

/* Master signal state: written by the handler, read by the loop. */
static int self_pipe[2] = { -1, -1 };
static volatile sig_atomic_t master_stop_count;
static volatile sig_atomic_t master_stop_signo;
static volatile sig_atomic_t master_got_hup;

/* Child signal state. */
static volatile sig_atomic_t child_stop_signo;

/* The signals a child leaves on (after the request in hand). */
static const int child_stop_signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
#define CHILD_NSTOP (sizeof(child_stop_signals) / sizeof(child_stop_signals[0]))

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
stop_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < CHILD_NSTOP; i++)
		sigaddset(set, child_stop_signals[i]);
}

static int
set_fd_flags(int fd, int fl_flags, int fd_flags)
{
	int v;

	if (fl_flags) {
		if ((v = fcntl(fd, F_GETFL)) < 0 ||
		    fcntl(fd, F_SETFL, v | fl_flags) < 0)
			return -1;
	}
	if (fd_flags) {
		if ((v = fcntl(fd, F_GETFD)) < 0 ||
		    fcntl(fd, F_SETFD, v | fd_flags) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- child */

/*
 * Runs only inside pselect (the signals are blocked elsewhere), so setting
 * libfcgi's flag as well is belt and braces for a caller that unblocks them.
 */
static void
child_on_signal(int signo)
{
	child_stop_signo = signo;
	FCGX_ShutdownPending();
}

int
prefork_child_loop(const struct cp_conf *conf, int listen_fd)
{
	struct sigaction sa;
	sigset_t stopset, oldmask, waitmask;
	FCGX_Request req;
	struct app *app = NULL;
	pid_t parent = getppid();
	long served = 0;
	int status = 0, rc;

	if (listen_fd < 0 || listen_fd >= FD_SETSIZE) {
		log_error("child: listening fd %d out of range", listen_fd);
		return 1;
	}

	stop_signal_set(&stopset);
	sigprocmask(SIG_BLOCK, &stopset, &oldmask);
	waitmask = oldmask;
	for (size_t i = 0; i < CHILD_NSTOP; i++)
		sigdelset(&waitmask, child_stop_signals[i]);

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_flags = 0;            /* no SA_RESTART: pselect must return EINTR */
	sa.sa_handler = child_on_signal;
	for (size_t i = 0; i < CHILD_NSTOP; i++)
		sigaction(child_stop_signals[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	if ((rc = FCGX_Init()) != 0) {
		log_error("child: FCGX_Init failed (%d)", rc);
		return 1;
	}
	/*
	 * nginx may close a connection before we answer: a write must fail with
	 * EPIPE, not kill. After FCGX_Init, which would replace SIG_IGN.
	 */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	if (app_new(conf, &app) != CP_OK) {
		log_error("child: cannot create the application state");
		return 1;
	}

	while (!child_stop_signo &&
	    (conf->fcgi.max_requests <= 0 || served < conf->fcgi.max_requests)) {
		/* A kept-alive connection (fastcgi_keep_conn) is read before a new accept. */
		int fd = req.ipcFd >= 0 ? req.ipcFd : listen_fd;
		struct timespec ts = { PREFORK_PARENT_CHECK_S, 0 };
		fd_set rfds;

		if (fd >= FD_SETSIZE) {
			log_error("child: connection fd %d out of range", fd);
			status = 1;
			break;
		}
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		rc = pselect(fd + 1, &rfds, NULL, NULL, &ts, &waitmask);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_error("child: pselect: %s", strerror(errno));
			status = 1;
			break;
		}
		if (rc == 0) {
			if (getppid() != parent) {
				log_warn("child: master %ld is gone; leaving",
				    (long)parent);
				break;
			}
			continue;
		}
		rc = FCGX_Accept_r(&req);
		if (rc < 0) {
			/* Another child took the connection, or the client left. */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
			    rc == -ECONNABORTED)
				continue;
			log_error("child: FCGX_Accept_r failed (%d: %s)", rc,
			    rc > -4096 ? strerror(-rc) : "libfcgi error");
			status = 1;
			break;
		}
		app_handle(app, &req);
		FCGX_Finish_r(&req);
		served++;
	}

	FCGX_Free(&req, 1);
	app_free(app);
	if (child_stop_signo)
		log_debug("child: stopping on signal %d after %ld requests",
		    (int)child_stop_signo, served);
	else if (status == 0)
		log_debug("child: leaving after %ld requests", served);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return status;
}

/* --------------------------------------------------------------- master */

static void
master_on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	if (signo == SIGHUP)
		master_got_hup = 1;
	else if (signo != SIGCHLD) {
		master_stop_signo = signo;
		master_stop_count++;
	}
	/* Full pipe: a wake-up byte is already waiting, so losing this one is fine. */
	(void)!write(self_pipe[1], &b, 1);
	errno = saved;
}

static const int prefork_master_signals[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP
};
#define PREFORK_NMASTER \
	(sizeof(prefork_master_signals) / sizeof(prefork_master_signals[0]))

static void
master_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < PREFORK_NMASTER; i++)
		sigaddset(set, prefork_master_signals[i]);
}

/*
 * Resets in a freshly forked process what the master installed, so that no
 * master handler can ever write into the master's self-pipe from a child.
 */
static void
after_fork_reset(struct prefork_master *m, int keep_listen_fd)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < PREFORK_NMASTER; i++)
		sigaction(prefork_master_signals[i], &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	close(self_pipe[0]);
	close(self_pipe[1]);
	self_pipe[0] = self_pipe[1] = -1;
	if (!keep_listen_fd && m->listen_fd >= 0) {
		close(m->listen_fd);
		m->listen_fd = -1;
	}
#ifdef __linux__
	/* If the master is SIGKILLed, its children and workers still stop cleanly. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
}

/* The forked child: serves requests until told to stop or recycled. */
static void __attribute__((noreturn))
run_child(struct prefork_master *m, const sigset_t *old)
{
	sigset_t mask = *old;
	int status;

	after_fork_reset(m, 1);
	free(m->children);
	free(m->workers);
	m->children = m->workers = NULL;
	/* The master decides when a child goes; a terminal hangup does not. */
	(void)signal(SIGHUP, SIG_IGN);
	for (size_t i = 0; i < CHILD_NSTOP; i++)
		sigaddset(&mask, child_stop_signals[i]);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	status = prefork_child_loop(m->conf, m->listen_fd);
	close(m->listen_fd);
	exit(status);
}

/* The forked worker: becomes callpipe-worker -c CONF. */
static void __attribute__((noreturn))
run_worker(struct prefork_master *m, const sigset_t *old)
{
	char *argv[4];
	sigset_t none;

	(void)old;
	after_fork_reset(m, 0);
	/* The worker gets the clean signal state it would get from a shell. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	argv[0] = (char *)m->worker_path;
	argv[1] = (char *)"-c";
	argv[2] = m->conf->path;
	argv[3] = NULL;
	execv(m->worker_path, argv);
	log_error("cannot execute %s: %s", m->worker_path, strerror(errno));
	_exit(127);
}

/*
 * Forks slot s into run(m, old). Everything stays blocked across fork until
 * the new process has replaced the master's handlers (run_child keeps the
 * stop signals blocked until its pselect). A failed fork is retried in 1 s.
 */
static void
spawn(struct prefork_master *m, struct prefork_slot *s, const char *what,
    void (*run)(struct prefork_master *, const sigset_t *))
{
	sigset_t all, old;
	pid_t master = getpid();
	pid_t pid;
	/* Its scoreboard slot (scoreboard.h), reserved before the fork. */
	int sb = scoreboard_slot_take(run == run_worker ? SB_WORKER : SB_CHILD);

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		if (getppid() != master)
			_exit(0);
		scoreboard_after_fork(sb, run == run_worker);
		run(m, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("cannot fork a %s: %s; trying again in 1 s", what,
		    strerror(errno));
		scoreboard_slot_release(sb);
		s->respawn_ms = now_ms() + 1000;
		return;
	}
	scoreboard_slot_started(sb, pid);
	s->pid = pid;
	s->started_ms = now_ms();
	if (run == run_worker)
		log_info("worker %ld started: %s -c %s", (long)pid,
		    m->worker_path, m->conf->path);
	else
		log_debug("child %ld started", (long)pid);
}

static void
spawn_child(struct prefork_master *m, int idx)
{
	spawn(m, &m->children[idx], "child", run_child);
}

static void
spawn_worker(struct prefork_master *m, int idx)
{
	spawn(m, &m->workers[idx], "worker", run_worker);
}

static void
describe_status(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		cp_fmt(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		cp_fmt(buf, len, "killed by signal %d (%s)%s", WTERMSIG(st),
		    strsignal(WTERMSIG(st)),
		    WCOREDUMP(st) ? ", core dumped" : "");
	else
		cp_fmt(buf, len, "changed state (status 0x%x)", (unsigned)st);
}

static int64_t
delay_doubling(int64_t base, int n, int64_t max)
{
	int64_t d = base;

	while (n-- > 0 && d < max)
		d *= 2;
	return d < max ? d : max;
}

/* A child that recycled itself (status 0) is no crash, however fast it was. */
static void
child_died(struct prefork_master *m, int idx, int st, int64_t now)
{
	struct prefork_slot *s = &m->children[idx];
	int normal = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	int64_t delay = 0;

	if (normal || now - s->started_ms >= PREFORK_FAST_DEATH_MS)
		s->quick_deaths = 0;
	else
		s->quick_deaths++;
	if (s->quick_deaths > PREFORK_FAST_DEATHS_MAX) {
		delay = delay_doubling(PREFORK_THROTTLE_MIN_MS,
		    s->quick_deaths - PREFORK_FAST_DEATHS_MAX - 1,
		    PREFORK_THROTTLE_MAX_MS);
		log_warn("child slot %d died %d times in a row within %d ms of "
		    "its start; respawning in %lld ms", idx, s->quick_deaths,
		    PREFORK_FAST_DEATH_MS, (long long)delay);
	}
	s->respawn_ms = now + delay;
}

/* Workers are never respawned at once: a worker that exits at once must not spin. */
static void
worker_died(struct prefork_master *m, int idx, int64_t now)
{
	struct prefork_slot *s = &m->workers[idx];
	int64_t delay;

	if (now - s->started_ms >= PREFORK_WORKER_STABLE_MS)
		s->quick_deaths = 0;
	delay = delay_doubling(PREFORK_WORKER_BACKOFF_MIN_MS, s->quick_deaths,
	    PREFORK_WORKER_BACKOFF_MAX_MS);
	s->quick_deaths++;
	s->respawn_ms = now + delay;
	log_info("worker slot %d: respawning in %lld ms", idx, (long long)delay);
}

/*
 * A reaped worker's running jobs go back to the queue at once (state
 * queued, queue_release_owner without a refund: the run counts, so a job
 * that kills its worker every time still ends dead at max_attempts)
 * instead of waiting out their lease (worker.lease_seconds): it ran as pid
 * on this host, so its jobs are locked_by "host:pid" (queue_owner_id, as
 * worker_new writes it). The master keeps no connection (its forks would
 * share the socket): one is opened for this and closed. While the database
 * is down that costs up to database.connect_timeout_s, and the lease
 * recovers the jobs as before; while stopping it is skipped (the lease
 * does it after the restart).
 */
static void
release_worker_jobs(struct prefork_master *m, pid_t pid, const char *how)
{
	char owner[QUEUE_OWNER_MAX + 1], err[CP_REASON_MAX + 1] = "";
	char reason[CP_REASON_MAX + 1];
	struct db *db = NULL;
	queue_owner_id(owner, sizeof(owner), (long)pid);
	cp_fmt(reason, sizeof(reason), "put back: worker %s %s", owner, how);
	if (db_open(m->conf, &db, err, sizeof(err)) != CP_OK ||
	    queue_release_owner(db, owner, 0, reason, false, NULL) != CP_OK)
		log_warn("worker %ld: its running jobs were not put back (the "
		    "lease will): %s", (long)pid, err[0] ? err :
		    db != NULL ? db_error(db) : "out of memory");
	db_close(db);
}

static struct prefork_slot *
find_slot(struct prefork_slot *slots, int n, pid_t pid, int *idx)
{
	for (int i = 0; i < n; i++)
		if (slots[i].pid == pid) {
			*idx = i;
			return &slots[i];
		}
	return NULL;
}

static void
reap(struct prefork_master *m)
{
	char how[128];
	int st, idx;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int64_t now = now_ms();
		struct prefork_slot *s;
		int is_child = 1;
		int abnormal = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);

		if ((s = find_slot(m->children, m->nchildren, pid, &idx)) == NULL) {
			is_child = 0;
			s = find_slot(m->workers, m->nworkers, pid, &idx);
		}
		if (s == NULL)
			continue;
		if (!WIFEXITED(st) && !WIFSIGNALED(st))
			continue;       /* stopped/continued: still ours */
		describe_status(st, how, sizeof(how));
		log_msg(abnormal && !m->stopping ? LOG_LVL_WARN : LOG_LVL_INFO,
		    "%s %ld %s", is_child ? "child" : "worker", (long)pid, how);
		s->pid = 0;
		/* Its counts join the retired total; a respawn follows unless
		 * stopping. */
		scoreboard_reaped(pid, !m->stopping,
		    abnormal ? SB_DIED : SB_RECYCLED);
		/* A worker that exits 0 finished its job first. */
		if (!is_child && abnormal && !m->stopping)
			release_worker_jobs(m, pid, how);
		if (m->stopping)
			continue;
		if (is_child)
			child_died(m, idx, st, now);
		else
			worker_died(m, idx, now);
	}
}

static int
count_alive(const struct prefork_master *m)
{
	int n = 0;

	for (int i = 0; i < m->nchildren; i++)
		n += m->children[i].pid != 0;
	for (int i = 0; i < m->nworkers; i++)
		n += m->workers[i].pid != 0;
	return n;
}

static void
signal_all(struct prefork_master *m, int signo)
{
	for (int i = 0; i < m->nchildren; i++)
		if (m->children[i].pid > 0)
			(void)kill(m->children[i].pid, signo);
	for (int i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid > 0)
			(void)kill(m->workers[i].pid, signo);
}

static void
begin_stop(struct prefork_master *m, int signo)
{
	m->stopping = 1;
	m->kill_at_ms = now_ms() + PREFORK_STOP_GRACE_MS;
	log_info("signal %d (%s): stopping; SIGTERM to %d processes, SIGKILL "
	    "after %d s", signo, strsignal(signo), count_alive(m),
	    PREFORK_STOP_GRACE_MS / 1000);
	signal_all(m, SIGTERM);
}

static void
escalate(struct prefork_master *m, const char *why)
{
	log_warn("%d processes still running %s: sending SIGKILL",
	    count_alive(m), why);
	signal_all(m, SIGKILL);
	m->killed = 1;
}

static void
spawn_due(struct prefork_master *m, int64_t now)
{
	for (int i = 0; i < m->nchildren; i++)
		if (m->children[i].pid == 0 && m->children[i].respawn_ms <= now)
			spawn_child(m, i);
	for (int i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid == 0 && m->workers[i].respawn_ms <= now)
			spawn_worker(m, i);
}

/* Milliseconds until the next timed event, or -1 to sleep until a signal. */
static int
next_timeout(const struct prefork_master *m, int64_t now)
{
	int64_t at = INT64_MAX;

	if (m->stopping) {
		if (!m->killed)
			at = m->kill_at_ms;
		else
			at = now + 1000;
	} else {
		for (int i = 0; i < m->nchildren; i++)
			if (m->children[i].pid == 0 && m->children[i].respawn_ms < at)
				at = m->children[i].respawn_ms;
		for (int i = 0; i < m->nworkers; i++)
			if (m->workers[i].pid == 0 && m->workers[i].respawn_ms < at)
				at = m->workers[i].respawn_ms;
	}
	if (at == INT64_MAX)
		return -1;
	if (at <= now)
		return 0;
	return at - now > 60000 ? 60000 : (int)(at - now);
}

/*
 * A socket file whose listener is gone refuses connections; a live one
 * accepts or, with a full backlog, says EAGAIN. Only the former is stale.
 */
static int
socket_is_live(const struct sockaddr_un *sa)
{
	int fd, rc, live;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	(void)set_fd_flags(fd, O_NONBLOCK, 0);
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	live = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return live;
}

static int
open_listen_socket(struct prefork_master *m)
{
	const char *path = m->conf->fcgi.socket;
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	size_t len;
	int fd, rc, saved;

	if (path == NULL || (len = strlen(path)) == 0) {
		log_error("fcgi.socket is not set");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (len >= sizeof(sa.sun_path)) {
		log_error("fcgi.socket %s: path longer than %zu bytes", path,
		    sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("cannot listen on %s: it exists and is not a "
			    "socket (not removing it)", path);
			return -1;
		}
		if (socket_is_live(&sa)) {
			log_error("cannot listen on %s: another process accepts "
			    "on it (is callpipe-fcgi already running?)", path);
			return -1;
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			log_error("cannot remove stale socket %s: %s", path,
			    strerror(errno));
			return -1;
		}
		log_info("removed stale socket %s", path);
	}

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	/* bind(2) makes the socket file with 0777 & ~umask (unix(7)): under
	 * this umask it has fcgi.socket_mode from the start, so nothing below
	 * has to chmod a path (chmod(2) follows a symlink). */
	old_mask = umask((mode_t)(~m->conf->fcgi.socket_mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	(void)umask(old_mask);
	if (rc != 0) {
		log_error("cannot listen on %s: bind: %s", path, strerror(saved));
		close(fd);
		return -1;
	}
	/* Before listen(2): nobody connects before owner and group are set.
	 * lchown(2), not chown: the directory may be the service user's (as
	 * /run/callpipe is), and a symlink it put in the socket's place must
	 * not make root chown the file it points to. As root the owner becomes
	 * the service user too. Only S_ISUID/S_ISGID are cleared by it. */
	if ((m->priv->socket_chgrp || m->priv->drop) &&
	    lchown(path, m->priv->drop ? m->priv->uid : (uid_t)-1,
	    m->priv->socket_chgrp ? m->priv->socket_gid : (gid_t)-1) != 0) {
		saved = errno;

		log_error("fcgi.socket_group %s: cannot chgrp %s: %s%s",
		    m->conf->fcgi.socket_group, path, strerror(saved),
		    saved == EPERM ? " (this user is not in that group: add it, "
		    "e.g. SupplementaryGroups=, or set fcgi.socket_group = \"\")" :
		    "");
		goto fail;
	}
	if (lstat(path, &st) != 0) {
		log_error("cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISSOCK(st.st_mode) ||
	    (int)(st.st_mode & 07777) != m->conf->fcgi.socket_mode) {
		log_error("%s: mode %04o after the bind, not a socket with "
		    "fcgi.socket_mode %04o (replaced meanwhile?)", path,
		    (unsigned)(st.st_mode & 07777),
		    (unsigned)m->conf->fcgi.socket_mode);
		goto fail;
	}
	m->sock_dev = st.st_dev;
	m->sock_ino = st.st_ino;
	if (listen(fd, PREFORK_LISTEN_BACKLOG) != 0) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Non-blocking: see the comment at the top (children pselect, then accept). */
	if (set_fd_flags(fd, O_NONBLOCK, FD_CLOEXEC) != 0) {
		log_error("fcntl on %s: %s", path, strerror(errno));
		goto fail;
	}
	m->listen_fd = fd;
	return 0;
fail:
	close(fd);
	(void)unlink(path);
	return -1;
}

static void
remove_socket(const struct prefork_master *m)
{
	const char *path = m->conf->fcgi.socket;
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == m->sock_dev &&
	    st.st_ino == m->sock_ino && unlink(path) != 0)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

static int
install_master_signals(struct sigaction *saved)
{
	struct sigaction sa;

	if (pipe(self_pipe) != 0) {
		log_error("pipe: %s", strerror(errno));
		return -1;
	}
	if (set_fd_flags(self_pipe[0], O_NONBLOCK, FD_CLOEXEC) != 0 ||
	    set_fd_flags(self_pipe[1], O_NONBLOCK, FD_CLOEXEC) != 0) {
		log_error("fcntl on the self-pipe: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sa.sa_handler = master_on_signal;
	for (size_t i = 0; i < PREFORK_NMASTER; i++)
		sigaction(prefork_master_signals[i], &sa, &saved[i]);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &saved[PREFORK_NMASTER]);
	return 0;
}

static void
restore_master_signals(const struct sigaction *saved)
{
	for (size_t i = 0; i < PREFORK_NMASTER; i++)
		sigaction(prefork_master_signals[i], &saved[i], NULL);
	sigaction(SIGPIPE, &saved[PREFORK_NMASTER], NULL);
	for (int i = 0; i < 2; i++)
		if (self_pipe[i] >= 0) {
			close(self_pipe[i]);
			self_pipe[i] = -1;
		}
}

static void
drain_self_pipe(void)
{
	unsigned char buf[64];

	while (read(self_pipe[0], buf, sizeof(buf)) > 0)
		;
}

int
prefork_run(const struct cp_conf *conf, const struct priv *priv,
    const char *worker_path)
{
	struct sigaction saved[PREFORK_NMASTER + 1];
	struct prefork_master m;
	sigset_t msigs, oldmask;
	sig_atomic_t seen_stops = 0;
	int status = 1;
	enum cp_err rc;

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	m.priv = priv;
	m.worker_path = worker_path;
	m.listen_fd = -1;
	m.nchildren = conf->fcgi.children;
	if (m.nchildren < 1) {
		log_warn("fcgi.children is %d; running 1 child", m.nchildren);
		m.nchildren = 1;
	}
	m.nworkers = conf->worker.processes > 0 ? conf->worker.processes : 0;
	if (m.nworkers > 0 && (worker_path == NULL || *worker_path == '\0' ||
	    conf->path == NULL)) {
		log_error("no worker binary or config path: not spawning workers");
		m.nworkers = 0;
	}
	if (m.nworkers > 0 && access(worker_path, X_OK) != 0)
		log_warn("worker binary %s: %s", worker_path, strerror(errno));
	/* Before the first fork: children inherit it, workers get its fd. */
	if ((rc = scoreboard_create(m.nchildren + m.nworkers + SB_SPARE_SLOTS))
	    != CP_OK)
		log_warn("scoreboard: %s; GET /metrics answers 503",
		    rc == CP_SYSTEM ? strerror(errno) : "more than 4096 slots");

	m.children = calloc((size_t)m.nchildren, sizeof(*m.children));
	m.workers = calloc((size_t)(m.nworkers ? m.nworkers : 1),
	    sizeof(*m.workers));
	if (m.children == NULL || m.workers == NULL) {
		log_error("out of memory");
		goto out;
	}

	for (size_t i = 0; i < PREFORK_NMASTER; i++)
		sigaction(prefork_master_signals[i], NULL, &saved[i]);
	sigaction(SIGPIPE, NULL, &saved[PREFORK_NMASTER]);
	/* Handlers before the socket exists, so a stop signal never leaves it behind. */
	master_signal_set(&msigs);
	sigprocmask(SIG_UNBLOCK, &msigs, &oldmask);
	if (install_master_signals(saved) != 0)
		goto out_pipe;
	if (open_listen_socket(&m) != 0)
		goto out_signals;
	/* Bound as whoever started us; everything after runs as the service
	 * user, and every child and worker is forked after this. */
	{
		char err[512];

		if (priv_drop(priv, err, sizeof(err)) != CP_OK) {
			log_error("%s", err);
			close(m.listen_fd);
			m.listen_fd = -1;
			remove_socket(&m);
			goto out_signals;
		}
		log_info("running as %s (uid %ld, gid %ld)%s", priv->user,
		    (long)getuid(), (long)getgid(),
		    priv->drop ? ", dropped from root" : "");
	}

	log_info("callpipe-fcgi: listening on %s, %d children, %d workers",
	    conf->fcgi.socket, m.nchildren, m.nworkers);

	for (;;) {
		struct pollfd pfd;
		int64_t now;

		if (master_stop_count != seen_stops) {
			seen_stops = master_stop_count;
			if (!m.stopping)
				begin_stop(&m, master_stop_signo);
			else if (!m.killed)
				escalate(&m, "after a second stop signal");
		}
		if (master_got_hup) {
			master_got_hup = 0;
			log_info("SIGHUP ignored: restart callpipe-fcgi to "
			    "reload the configuration");
		}
		reap(&m);
		now = now_ms();
		if (m.stopping) {
			if (count_alive(&m) == 0)
				break;
			if (!m.killed && now >= m.kill_at_ms)
				escalate(&m, "10 s after SIGTERM");
		} else
			spawn_due(&m, now);

		pfd.fd = self_pipe[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, next_timeout(&m, now_ms())) < 0 &&
		    errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			if (!m.stopping)
				begin_stop(&m, SIGTERM);
		}
		drain_self_pipe();
	}

	close(m.listen_fd);
	m.listen_fd = -1;
	remove_socket(&m);
	log_info("stopped");
	status = 0;
out_signals:
	if (m.listen_fd >= 0)
		close(m.listen_fd);
out_pipe:
	restore_master_signals(saved);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
out:
	free(m.children);
	free(m.workers);
	return status;
}
