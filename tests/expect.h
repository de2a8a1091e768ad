// The check macro of the plain C unit tests: EXPECT(cond, printf-format, ...) counts the check, and on failure
// prints "FAIL: message" to stderr and counts the failure. main() reports `failures` and exits non-zero.
#ifndef SHEAR_TEST_EXPECT_H
#define SHEAR_TEST_EXPECT_H

#include <stdio.h>

static int failures = 0, checks = 0;
#define EXPECT(cond, ...)                  \
    do {                                   \
        checks++;                          \
        if (!(cond)) {                     \
            fprintf(stderr, "FAIL: ");     \
            fprintf(stderr, __VA_ARGS__);  \
            fprintf(stderr, "\n");         \
            failures++;                    \
        }                                  \
    } while (0)

#endif
