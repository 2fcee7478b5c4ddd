/*
 * hello-fcgi: the ceiling bench-webhook compares callpipe with — a FastCGI
 * program that reads the request body and answers "200 hello", nothing
 * else. Pre-forks like callpipe-fcgi: N processes accept on one unix
 * socket (libfcgi, Debian libfcgi-dev).
 *
 *   hello-fcgi SOCKET_PATH [N]     (N = 4; stops on SIGTERM)
 *
 * Built by tests/bench/bench-webhook with cc -O2 ... -lfcgi; bench only.
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t kids[64];
static int nkids;

/* SIGTERM to the parent: its children go too. */
static void
on_term(int signo)
{
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	signal(signo, SIG_DFL);
	raise(signo);
}

static int
serve(int fd)
{
	FCGX_Request req;
	char buf[4096];

	if (FCGX_InitRequest(&req, fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		while (FCGX_GetStr(buf, sizeof(buf), req.in) > 0)
			;
		FCGX_FPrintF(req.out, "Status: 200 OK\r\nContent-Type: "
		    "text/plain\r\nContent-Length: 6\r\n\r\nhello\n");
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int fd, n = argc > 2 ? (int)strtoul(argv[2], NULL, 10) : 4;

	if (argc < 2 || n < 1 || n > 64) {
		fprintf(stderr, "usage: hello-fcgi SOCKET_PATH [N]\n");
		return 2;
	}
	if (FCGX_Init() != 0 || (fd = FCGX_OpenSocket(argv[1], 128)) < 0) {
		fprintf(stderr, "hello-fcgi: cannot listen on %s\n", argv[1]);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			_exit(serve(fd));
		}
		if (pid < 0) {
			perror("hello-fcgi: fork");
			on_term(SIGTERM);
		}
		kids[nkids++] = pid;
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
