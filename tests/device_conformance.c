#include "device_conformance.h"

#include <stdio.h>

#include "test.h"

const conformance_tolerance CONFORMANCE_ELEMENTWISE = {1e-5, 1e-6};
const conformance_tolerance CONFORMANCE_EXACT = {0, 0};

static bool same_device(cg_device a, cg_device b) {
    return a.type == b.type && (a.type == CG_DEVICE_CPU || a.index == b.index);
}

conformance_tolerance conformance_summing(int64_t terms) {
    return (conformance_tolerance){1e-5, 1e-6 * (double)(terms > 1 ? terms : 1)};
}

bool conformance_close(const char *what, const cg_tensor *actual, const cg_tensor *expected,
                       conformance_tolerance tolerance) {
    if (test_tensor_close(actual, expected, tolerance.atol, tolerance.rtol, __FILE__, __LINE__))
        return true;
    test_fail(__FILE__, __LINE__, "%s differs from the CPU's", what);
    return false;
}

/* The op on device, inside the caller's scope: *output, and the inputs' gradients in grads
 * (NULL for inputs that get none). */
static bool run_on(cg_device device, conformance_op op, const void *params,
                   cg_tensor *const *inputs, int count, bool gradients, cg_tensor **output,
                   cg_tensor **grads) {
    cg_tensor *copies[CONFORMANCE_MAX_INPUTS] = {NULL};
    for (int i = 0; i < count; i++) {
        copies[i] = cg_detach(cg_to_device(inputs[i], device));
        if (!copies[i]) return false;
        const cg_dtype dtype = cg_tensor_dtype(copies[i]);
        if (gradients && (dtype == CG_FLOAT32 || dtype == CG_FLOAT64))
            cg_set_requires_grad(copies[i], true);
    }
    *output = op(copies, params);
    if (!*output) return false;
    for (int i = 0; i < count; i++)
        grads[i] = NULL;
    if (!gradients || !cg_requires_grad(*output)) return true;
    /* The same weights on both devices: drawn on the CPU from a fixed seed. */
    const cg_rng_state state = cg_rng_get_state();
    cg_manual_seed(0x3E16);
    cg_tensor *weights =
        cg_to_device(cg_randn(cg_tensor_shape(*output), cg_tensor_dtype(*output)), device);
    cg_rng_set_state(state);
    if (cg_backward(cg_sum(cg_mul(*output, weights), CG_ALL_DIMS, false)) != 0) return false;
    for (int i = 0; i < count; i++)
        grads[i] = cg_requires_grad(copies[i]) ? cg_grad(copies[i]) : NULL;
    return true;
}

bool conformance_agree(cg_device device, const char *what, conformance_op op, const void *params,
                       cg_tensor *const *inputs, int count, bool gradients,
                       conformance_tolerance tolerance) {
    char name[160];
    cg_tensor *expected, *actual, *expected_grads[CONFORMANCE_MAX_INPUTS],
        *actual_grads[CONFORMANCE_MAX_INPUTS];
    cg_scope_begin();
    /* Each device draws from the same stream position, so random ops (dropout) can agree. */
    const cg_rng_state state = cg_rng_get_state();
    bool ok =
        run_on(cg_device_cpu(), op, params, inputs, count, gradients, &expected, expected_grads);
    cg_rng_set_state(state);
    ok = ok && run_on(device, op, params, inputs, count, gradients, &actual, actual_grads);
    if (!ok) test_fail(__FILE__, __LINE__, "%s failed: %s", what, cg_last_error());
    if (ok && !same_device(cg_tensor_device(actual), device)) {
        test_fail(__FILE__, __LINE__, "%s: the output is not on the device under test", what);
        ok = false;
    }
    snprintf(name, sizeof name, "%s (output)", what);
    ok = ok && conformance_close(name, actual, expected, tolerance);
    for (int i = 0; ok && gradients && i < count; i++) {
        if (!expected_grads[i] && !actual_grads[i]) continue;
        snprintf(name, sizeof name, "%s (gradient of input %d)", what, i);
        if (!expected_grads[i] || !actual_grads[i]) {
            test_fail(__FILE__, __LINE__, "%s: present on one device only", name);
            ok = false;
        } else {
            ok = conformance_close(name, actual_grads[i], expected_grads[i], tolerance);
        }
    }
    cg_scope_end();
    return ok;
}
