/* A small test framework: TEST(name) registers a test; CHECK* macros fail it with the file and
 * line; SKIP reports it skipped with a reason. The runner prints "N passed, M failed, K skipped".
 */
#ifndef CG_TEST_H
#define CG_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "cgrad.h"

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_fail(const char *file, int line, const char *format, ...);
void test_skip(const char *reason);
bool test_failed(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void register_##name(void) {                               \
        test_register(#name, __FILE__, name);                                                      \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail(__FILE__, __LINE__, "CHECK(%s) failed; last error: %s", #cond,               \
                      cg_last_error());                                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* |actual - expected| <= tol (and both NaN counts as equal). */
#define CHECK_NEAR(actual, expected, tol)                                                          \
    do {                                                                                           \
        double a_ = (actual), e_ = (expected);                                                     \
        if (!(fabs(a_ - e_) <= (tol)) && !(isnan(a_) && isnan(e_))) {                              \
            test_fail(__FILE__, __LINE__, "%s = %.10g, expected %.10g (tolerance %g)", #actual,    \
                      a_, e_, (double)(tol));                                                      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* The expression must fail (NULL, a negative status or NaN) and set an error containing text. */
#define CHECK_ERROR(expr, text)                                                                    \
    do {                                                                                           \
        cg_clear_error();                                                                          \
        const bool failed_ = _Generic((expr), int                                                  \
                                      : test_int_failed, double                                    \
                                      : test_double_failed, default                                \
                                      : test_pointer_failed)(expr);                                \
        if (!test_expect_error(failed_, cg_last_error(), (text), __FILE__, __LINE__, #expr))       \
            return;                                                                                \
    } while (0)

static inline bool test_int_failed(int status) { return status < 0; }
static inline bool test_double_failed(double value) { return isnan(value); }
static inline bool test_pointer_failed(const void *pointer) { return pointer == NULL; }

#define SKIP(reason)                                                                               \
    do {                                                                                           \
        test_skip(reason);                                                                         \
        return;                                                                                    \
    } while (0)

bool test_expect_error(bool failed, const char *message, const char *text, const char *file,
                       int line, const char *expr);

/* After an attempt to read path: it must have failed (failed true) with an error naming path and
 * containing reason; reports the failure at file:line otherwise. */
bool test_expect_file_error(bool failed, const char *path, const char *reason, const char *file,
                            int line);

/* Path of a file in the source tree (tests/fixtures/..., data/...). */
const char *test_source_path(const char *relative);

/* Checks every element of actual against expected (same numel) within atol + rtol*|expected|. */
bool test_tensor_close(const cg_tensor *actual, const cg_tensor *expected, double atol, double rtol,
                       const char *file, int line);
#define CHECK_TENSOR_CLOSE(actual, expected, atol, rtol)                                           \
    do {                                                                                           \
        if (!test_tensor_close((actual), (expected), (atol), (rtol), __FILE__, __LINE__)) return;  \
    } while (0)

#endif
