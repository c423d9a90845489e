/* Test counters and CHECK macros shared by the C test programs. */
#ifndef SLOTRT_TEST_CHECK_H
#define SLOTRT_TEST_CHECK_H

#include "slotrt.h"

#include <stdio.h>
#include <string.h>

/* Each test program is one translation unit, so these are its counters. */
static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",   \
                    __FILE__, __LINE__, #cond, slotrt_last_error_message()); \
        }                                                                    \
    } while (0)

/* The status is as expected and the message mentions `needle`. */
#define CHECK_ERR(call, status, needle)                                   \
    do {                                                                  \
        slotrt_status got_ = (call);                                      \
        CHECK(got_ == (status));                                          \
        CHECK(slotrt_last_error_status() == (status));                    \
        CHECK(strstr(slotrt_last_error_message(), (needle)) != NULL);     \
    } while (0)

#endif
