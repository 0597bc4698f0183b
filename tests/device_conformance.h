/* The harness of the backend conformance suite: runs an op on copies of its inputs on the CPU
 * and on a device under test, and compares outputs and gradients. */
#ifndef CG_TEST_DEVICE_CONFORMANCE_H
#define CG_TEST_DEVICE_CONFORMANCE_H

#include <stdbool.h>

#include "cgrad.h"

enum { CONFORMANCE_MAX_INPUTS = 4 };

/* An op under test: a new tensor from its inputs (all on one device) and fixed parameters. */
typedef cg_tensor *(*conformance_op)(cg_tensor *const *inputs, const void *params);

/* |device - cpu| <= atol + rtol |cpu| element by element. */
typedef struct {
    double rtol, atol;
} conformance_tolerance;

/* Elementwise ops: float32 within 1e-5 relative. */
extern const conformance_tolerance CONFORMANCE_ELEMENTWISE;
/* Exact agreement (integer results, indices, copies). */
extern const conformance_tolerance CONFORMANCE_EXACT;
/* Ops that sum terms (reductions, matmul, convolution) in another order on each backend: 1e-5
 * relative, plus 1e-6 absolute per term summed, the bound of float32 rounding for inputs of
 * magnitude about 1. */
conformance_tolerance conformance_summing(int64_t terms);

/* Runs op on copies of the (CPU) inputs on the CPU and on device and checks that the outputs
 * agree within tolerance; with gradients, also the gradients of sum(output * w), for a fixed
 * random w, with respect to each floating-point input. what names the case in a failure. False
 * after reporting a failure. */
bool conformance_agree(cg_device device, const char *what, conformance_op op, const void *params,
                       cg_tensor *const *inputs, int count, bool gradients,
                       conformance_tolerance tolerance);

/* Checks that two tensors (any devices) agree within tolerance, reporting what on failure. */
bool conformance_close(const char *what, const cg_tensor *actual, const cg_tensor *expected,
                       conformance_tolerance tolerance);

#endif
