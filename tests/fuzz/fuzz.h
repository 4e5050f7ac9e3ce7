/* Shared by the libFuzzer harnesses: CHECK (an assert that NDEBUG does not
 * remove) and the one-line-error property every failure must have. */
#ifndef VIBEE_FUZZ_H
#define VIBEE_FUZZ_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

/* An error message: present, one line. */
#define CHECK_ONE_LINE(msg) CHECK((msg)[0] && !strchr((msg), '\n'))
#endif
