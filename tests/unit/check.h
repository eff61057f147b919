/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Minimal checks for unit tests: report where, keep going, fail at the end. */
static int check_failures;

#define CHECK(expr)                                                                 \
        do {                                                                        \
                if (!(expr)) {                                                      \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        check_failures++;                                           \
                }                                                                   \
        } while (0)

#define CHECK_STREQ(a, b)                                                           \
        do {                                                                        \
                const char *_a = (a), *_b = (b);                                    \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                            \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\" (%s vs %s)\n", __FILE__, __LINE__, \
                                _a ? _a : "(null)", _b ? _b : "(null)", #a, #b);    \
                        check_failures++;                                           \
                }                                                                   \
        } while (0)

#define CHECK_DONE()                                                                \
        do {                                                                        \
                if (check_failures)                                                 \
                        fprintf(stderr, "%d check(s) failed\n", check_failures);    \
                return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;                \
        } while (0)
