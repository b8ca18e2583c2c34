/* SPDX-License-Identifier: MIT */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int check_failures;
atomic_int check_thread_failures;

bool check_aborts(void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		fclose(stderr);
		fn(arg);
		_exit(0);
	}
	int status = 0;
	return waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int main(int argc, char **argv)
{
	int rc = test_main(argc, argv);
	check_failures += atomic_load(&check_thread_failures);
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", argv[0], check_failures);
		return 1;
	}
	return rc;
}
