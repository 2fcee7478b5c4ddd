/* check_scoreboard: slots of forked children and of an exec'd worker
 * (the memfd passed in CALLPIPE_SCOREBOARD_FD) reach the shared totals,
 * a reaped process's counts fold into the retired total (nothing goes
 * down), respawns are counted, and a process without the environment
 * counts privately. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scoreboard.h"

static struct sb_totals t;

/* Whether this process has the scoreboard's memfd open (/proc/self/fd). */
static bool
has_board_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	bool found = false;

	if (d == NULL)
		return true;       /* cannot tell: fail the caller's check */
	while (!found && (e = readdir(d)) != NULL) {
		char path[300], to[128];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(path, to, sizeof(to) - 1)) <= 0)
			continue;
		to[n] = '\0';
		found = strstr(to, "memfd:callpipe-scoreboard") != NULL;
	}
	closedir(d);
	return found;
}

/* The exec'd "worker": attaches from the environment, counts, exits. */
static int
as_worker(void)
{
	if (scoreboard_attach_env() != CP_OK || !scoreboard_shared())
		return 3;
	if (getenv(SB_ENV_FD) != NULL || getenv(SB_ENV_SLOT) != NULL)
		return 4;          /* the variables must be gone */
	if (has_board_fd())
		return 5;          /* the fd must be closed */
	scoreboard_add(5, 7);
	scoreboard_add(SB_NCOUNTERS - 1, 1);
	return 0;
}

static pid_t
spawn(enum sb_proc kind, bool do_exec, unsigned long long n)
{
	int idx = scoreboard_slot_take(kind);
	pid_t pid;

	ck_assert_int_ge(idx, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		scoreboard_after_fork(idx, do_exec);
		if (do_exec) {
			execl("/proc/self/exe", "check-scoreboard", "--worker",
			    (char *)NULL);
			_exit(126);
		}
		scoreboard_add(5, n);
		/* A FastCGI child keeps the mapping, not the memfd. */
		_exit(has_board_fd() ? 5 : 0);
	}
	scoreboard_slot_started(idx, pid);
	return pid;
}

static int
wait_exit(pid_t pid)
{
	int st = 0;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_private_without_board)
{
	ck_assert_int_eq(scoreboard_read(&t), CP_NOTFOUND);
	ck_assert(!scoreboard_shared());
	scoreboard_add(1, 1);          /* no board: counted privately, fine */
	unsetenv(SB_ENV_FD);
	ck_assert_int_eq(scoreboard_attach_env(), CP_NOTFOUND);
	setenv(SB_ENV_FD, "x", 1);
	setenv(SB_ENV_SLOT, "0", 1);
	ck_assert_int_eq(scoreboard_attach_env(), CP_INPUT);
	setenv(SB_ENV_FD, "0", 1);     /* stdin is no scoreboard */
	setenv(SB_ENV_SLOT, "0", 1);
	ck_assert_int_ne(scoreboard_attach_env(), CP_OK);
	ck_assert(!scoreboard_shared());
	ck_assert_int_ne(fcntl(0, F_GETFD), -1);   /* and stays open */
	ck_assert_ptr_null(getenv(SB_ENV_FD));
	/* An fd without its slot variable: refused, yet closed and both
	 * variables gone (the worker never keeps the memfd). */
	{
		int fd = open("/dev/null", O_RDONLY);
		char num[16];

		ck_assert_int_gt(fd, 2);
		snprintf(num, sizeof(num), "%d", fd);
		setenv(SB_ENV_FD, num, 1);
		unsetenv(SB_ENV_SLOT);
		ck_assert_int_eq(scoreboard_attach_env(), CP_INPUT);
		ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
		ck_assert_ptr_null(getenv(SB_ENV_FD));
	}
	ck_assert(!scoreboard_shared());
}
END_TEST

START_TEST(test_fold_keeps_totals)
{
	pid_t a, b, w;

	ck_assert_int_eq(scoreboard_create(4), CP_OK);
	a = spawn(SB_CHILD, false, 10);
	b = spawn(SB_CHILD, false, 20);
	w = spawn(SB_WORKER, true, 0);
	ck_assert_int_eq(wait_exit(a), 0);
	ck_assert_int_eq(wait_exit(b), 0);
	ck_assert_int_eq(wait_exit(w), 0);

	/* Dead but not reaped yet: still in their slots. */
	ck_assert_int_eq(scoreboard_read(&t), CP_OK);
	ck_assert_uint_eq(t.v[5], 37);
	ck_assert_uint_eq(t.v[SB_NCOUNTERS - 1], 1);
	ck_assert_int_eq(t.alive[SB_CHILD], 2);
	ck_assert_int_eq(t.alive[SB_WORKER], 1);

	scoreboard_reaped(a, true, SB_DIED);
	scoreboard_reaped(w, true, SB_RECYCLED);
	scoreboard_reaped(b, false, SB_RECYCLED);   /* stopping: no respawn */
	scoreboard_reaped(b, true, SB_DIED);        /* holds no slot now */
	ck_assert_int_eq(scoreboard_read(&t), CP_OK);
	ck_assert_uint_eq(t.v[5], 37);              /* folded, not lost */
	ck_assert_uint_eq(t.v[SB_NCOUNTERS - 1], 1);
	ck_assert_int_eq(t.alive[SB_CHILD], 0);
	ck_assert_int_eq(t.alive[SB_WORKER], 0);
	ck_assert_uint_eq(t.respawns[SB_CHILD][SB_DIED], 1);
	ck_assert_uint_eq(t.respawns[SB_CHILD][SB_RECYCLED], 0);
	ck_assert_uint_eq(t.respawns[SB_WORKER][SB_RECYCLED], 1);

	/* Freed slots are used again, starting from zero. */
	a = spawn(SB_CHILD, false, 5);
	ck_assert_int_eq(wait_exit(a), 0);
	ck_assert_int_eq(scoreboard_read(&t), CP_OK);
	ck_assert_uint_eq(t.v[5], 42);
	scoreboard_reaped(a, true, SB_DIED);
	ck_assert_int_eq(scoreboard_read(&t), CP_OK);
	ck_assert_uint_eq(t.v[5], 42);
}
END_TEST

START_TEST(test_slots_run_out)
{
	int a, b;

	ck_assert_int_eq(scoreboard_create(2), CP_OK);
	ck_assert_int_eq(scoreboard_create(9), CP_OK);   /* once only */
	a = scoreboard_slot_take(SB_CHILD);
	b = scoreboard_slot_take(SB_CHILD);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_eq(scoreboard_slot_take(SB_WORKER), -1);
	scoreboard_slot_release(b);
	ck_assert_int_eq(scoreboard_slot_take(SB_WORKER), b);
}
END_TEST

int
main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;
	SRunner *sr;
	int failed;

	if (argc == 2 && strcmp(argv[1], "--worker") == 0)
		return as_worker();
	s = suite_create("scoreboard");
	tc = tcase_create("scoreboard");
	tcase_add_test(tc, test_private_without_board);
	tcase_add_test(tc, test_fold_keeps_totals);
	tcase_add_test(tc, test_slots_run_out);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
