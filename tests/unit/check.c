#include "check.h"

int check_failures;

int main(int argc, char **argv)
{
	int rc = test_main(argc, argv);
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", argv[0], check_failures);
		return 1;
	}
	return rc;
}
