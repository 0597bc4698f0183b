/* The test runner: runs every registered test (or those whose name contains argv[1]), checks
 * that each returns all the memory it took, and ends with "N passed, M failed, K skipped". */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

enum { MAX_TESTS = 4096 };

typedef struct {
    const char *name, *file;
    test_fn fn;
} test_case;

static test_case tests[MAX_TESTS];
static int test_count;
static bool current_failed, current_skipped;
static char skip_reason[256];

void test_register(const char *name, const char *file, test_fn fn) {
    if (test_count < MAX_TESTS) tests[test_count++] = (test_case){name, file, fn};
}

void test_fail(const char *file, int line, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, format, args);
    fputc('\n', stdout);
    va_end(args);
    current_failed = true;
}

void test_skip(const char *reason) {
    current_skipped = true;
    snprintf(skip_reason, sizeof skip_reason, "%s", reason);
}

bool test_failed(void) { return current_failed; }

bool test_expect_error(bool failed, const char *message, const char *text, const char *file,
                       int line, const char *expr) {
    if (!failed) {
        test_fail(file, line, "%s succeeded; expected an error containing \"%s\"", expr, text);
        return false;
    }
    if (!strstr(message, text)) {
        test_fail(file, line, "%s: error \"%s\" does not contain \"%s\"", expr, message, text);
        return false;
    }
    return true;
}

bool test_expect_file_error(bool failed, const char *path, const char *reason, const char *file,
                            int line) {
    if (!failed) {
        test_fail(file, line, "reading %s succeeded; expected \"%s\"", path, reason);
        return false;
    }
    if (!strstr(cg_last_error(), path) || !strstr(cg_last_error(), reason)) {
        test_fail(file, line, "error \"%s\" does not name %s with \"%s\"", cg_last_error(), path,
                  reason);
        return false;
    }
    return true;
}

const char *test_source_path(const char *relative) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", CG_SOURCE_DIR, relative);
    return path;
}

bool test_tensor_close(const cg_tensor *actual, const cg_tensor *expected, double atol, double rtol,
                       const char *file, int line) {
    if (!actual || !expected) {
        test_fail(file, line, "tensor is NULL; last error: %s", cg_last_error());
        return false;
    }
    const int64_t n = cg_numel(actual);
    if (n != cg_numel(expected)) {
        test_fail(file, line, "%lld elements, expected %lld", (long long)n,
                  (long long)cg_numel(expected));
        return false;
    }
    double *a = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double *e = malloc(sizeof(double) * (size_t)(n ? n : 1));
    cg_scope_begin();
    bool ok =
        a && e &&
        cg_copy_to_array(cg_to_dtype(actual, CG_FLOAT64), a, sizeof(double) * (size_t)n) == 0 &&
        cg_copy_to_array(cg_to_dtype(expected, CG_FLOAT64), e, sizeof(double) * (size_t)n) == 0;
    cg_scope_end();
    for (int64_t i = 0; ok && i < n; i++) {
        const bool both_nan = isnan(a[i]) && isnan(e[i]);
        const bool same_inf = isinf(a[i]) && a[i] == e[i];
        if (!both_nan && !same_inf && !(fabs(a[i] - e[i]) <= atol + rtol * fabs(e[i]))) {
            test_fail(file, line, "element %lld: %.10g, expected %.10g", (long long)i, a[i], e[i]);
            ok = false;
        }
    }
    free(a);
    free(e);
    return ok;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < test_count; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        current_failed = current_skipped = false;
        cg_clear_error();
        cg_manual_seed(0x5EED);
        const size_t live_before = cg_memory_get_stats().live_bytes;
        const int depth_before = cg_scope_depth();
        tests[i].fn();
        /* A failed CHECK returns early and may leave scopes open: close them so the next test
         * starts clean, and count it against a test that did not fail. */
        if (cg_scope_depth() != depth_before && !current_failed && !current_skipped)
            test_fail(tests[i].file, 0, "%s left %d scope(s) open", tests[i].name,
                      cg_scope_depth() - depth_before);
        while (cg_scope_depth() > depth_before)
            cg_scope_end();
        const size_t live_after = cg_memory_get_stats().live_bytes;
        if (!current_failed && !current_skipped && live_after != live_before)
            test_fail(tests[i].file, 0, "%s leaked %lld bytes of tensor memory", tests[i].name,
                      (long long)(live_after - live_before));
        if (current_failed) {
            failed++;
            printf("FAIL %s (%s)\n", tests[i].name, tests[i].file);
        } else if (current_skipped) {
            skipped++;
            printf("SKIP %s: %s\n", tests[i].name, skip_reason);
        } else {
            passed++;
            if (getenv("CG_TEST_VERBOSE")) printf("ok   %s\n", tests[i].name);
        }
    }
    cg_memory_release_cached();
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    fflush(stdout); /* before any sanitizer report at exit */
    return failed ? 1 : 0;
}
