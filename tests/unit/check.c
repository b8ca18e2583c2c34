/* SPDX-License-Identifier: MIT */
#include "check.h"

int check_failures;
atomic_int check_thread_failures;

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
