/*
 * spawn.c — the launcher of one machine's ranks. See spawn.h.
 */
#include "dist/spawn.h"
#include "dist/dist.h"
#include "util/error.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_RANKS 1024

static volatile sig_atomic_t rank_pid[MAX_RANKS];  /* 0: not running */
static int rank_count;

/* Async-signal-safe: a signal to the launcher goes to every rank (a hang-up
 * as SIGTERM: they checkpoint); the grace alarm after a failure kills the
 * ranks left. */
static void ranks_forward(int sig)
{
	int saved = errno, to = sig == SIGALRM ? SIGKILL : sig == SIGHUP ? SIGTERM : sig;
	for (int i = 0; i < rank_count; i++)
		if (rank_pid[i] > 0)
			kill((pid_t)rank_pid[i], to);
	errno = saved;
}

static void ranks_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ranks_forward;  /* no SA_RESTART: waitpid sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
}

/* The child: rank I of N's environment, then this program again. */
static void rank_exec(int i, int n, const char *nccl_id, char **argv, pid_t launcher)
{
	char rank[16], size[16];
	rank_count = 0;  /* a signal before the exec: this copy forwards nothing */
	snprintf(rank, sizeof rank, "%d", i);
	snprintf(size, sizeof size, "%d", n);
	if (setenv(DIST_ENV_RANK, rank, 1) || setenv(DIST_ENV_WORLD_SIZE, size, 1) ||
	    setenv(DIST_ENV_LOCAL_RANK, rank, 1) || setenv(DIST_ENV_NCCL_ID, nccl_id, 1))
		_exit(EXIT_RUNTIME);
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != launcher)
		_exit(EXIT_RUNTIME);
#endif
	/* getopt_long has permuted argv: the same options, parsed the same */
	execv("/proc/self/exe", argv);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: cannot start rank %d: %s: %s\n", lm_progname, i, argv[0], strerror(errno));
	_exit(127);
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The first failure: stop the ranks left, SIGKILL after the grace. */
static void ranks_stop(int left, int grace_s)
{
	if (left == 0)
		return;
	ranks_forward(SIGTERM);
	alarm((unsigned)grace_s);
}

/* Every rank's end; the status of the first that failed, else 0. */
static int ranks_wait(int left, int grace_s, dist_spawn_failed on_failed)
{
	int code = 0;
	while (left > 0) {
		int st, i;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break;
		for (i = 0; i < rank_count && rank_pid[i] != p; i++)
			;
		if (i == rank_count)
			continue;
		rank_pid[i] = 0;
		left--;
		if (status_code(st) != 0 && code == 0) {
			code = status_code(st);
			if (left > 0 && on_failed)
				on_failed(i, rank_count, code);
			ranks_stop(left, grace_s);
		}
	}
	return code;
}

int dist_spawn(int n, const char *nccl_id, char **argv, int grace_s, dist_spawn_failed on_failed)
{
	if (n < 1 || n > MAX_RANKS)
		return lm_fail("%d ranks: 1 to %d on one machine", n, MAX_RANKS);
	ranks_signals();
	rank_count = n;
	pid_t self = getpid();
	int started = 0, code = 0;
	for (; started < n; started++) {
		pid_t p = fork();
		if (p == 0)
			rank_exec(started, n, nccl_id, argv, self);
		if (p < 0) {
			if (started == 0)
				return lm_fail_errno("cannot start rank 0");
			code = EXIT_RUNTIME;
			if (on_failed)
				on_failed(started, n, code);
			ranks_stop(started, grace_s);
			break;
		}
		rank_pid[started] = p;
	}
	int rc = ranks_wait(started, grace_s, on_failed);
	return code ? code : rc;
}
