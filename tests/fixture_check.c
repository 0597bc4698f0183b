#include "fixture_check.h"

#include <stdio.h>

#include "test.h"

const double *fixture_attr_values(const char *file, const fixture_case *fixture, const char *name,
                                  int count) {
    const fixture_attr *attr = fixture_find_attr(fixture, name);
    if (attr && attr->count == count) return attr->values;
    test_fail(file, fixture->line, "case %s: no attribute %s of %d values", fixture->name, name,
              count);
    return NULL;
}

static bool matches(const char *file, const fixture_case *fixture, cg_dtype dtype, const char *name,
                    const cg_tensor *actual, double atol) {
    const cg_tensor *expected = fixture_find_tensor(fixture, name);
    if (expected && test_tensor_close(actual, expected, atol, 0, __FILE__, __LINE__)) return true;
    test_fail(file, fixture->line, "case %s (%s): tensor %s %s", fixture->name,
              cg_dtype_name(dtype), name, expected ? "differs" : "is missing");
    return false;
}

/* One case in dtype: the output, then the gradient of sum(out * w) for every input. */
static bool check_case(const char *file, const fixture_case *fixture, fixture_op_runner run,
                       cg_dtype dtype, double atol) {
    static const char *const input_names[] = {"x", "weight", "bias"};
    cg_tensor *inputs[3] = {NULL};
    for (int i = 0; i < 3; i++) {
        cg_tensor *stored = fixture_find_tensor(fixture, input_names[i]);
        if (stored) inputs[i] = cg_set_requires_grad(cg_to_dtype(stored, dtype), true);
    }
    cg_tensor *out = run(file, fixture, inputs);
    if (!matches(file, fixture, dtype, "out", out, atol)) return false;
    const cg_tensor *w = fixture_find_tensor(fixture, "w");
    if (!w || cg_backward_with(out, cg_to_dtype(w, dtype)) != 0) {
        test_fail(file, fixture->line, "case %s: backward failed: %s", fixture->name,
                  cg_last_error());
        return false;
    }
    for (int i = 0; i < 3; i++) {
        char grad_name[32];
        snprintf(grad_name, sizeof grad_name, "grad_%s", input_names[i]);
        if (inputs[i] && !matches(file, fixture, dtype, grad_name, cg_grad(inputs[i]), atol))
            return false;
    }
    return true;
}

bool fixture_check_op_cases(const char *path, fixture_op_runner run) {
    fixture_file *file = fixture_load(test_source_path(path));
    if (!file) {
        test_fail(path, 0, "cannot load: %s", cg_last_error());
        return false;
    }
    if (file->case_count == 0) test_fail(path, 0, "no cases");
    const cg_dtype dtypes[] = {CG_FLOAT64, CG_FLOAT32};
    const double atols[] = {1e-10, 1e-4};
    bool ok = file->case_count > 0;
    for (int i = 0; ok && i < file->case_count; i++) {
        for (int d = 0; ok && d < 2; d++) {
            cg_scope_begin();
            ok = check_case(path, &file->cases[i], run, dtypes[d], atols[d]);
            cg_scope_end();
        }
    }
    fixture_free(file);
    return ok;
}
