/* Finite-difference gradient checking: the analytic gradient of sum(w * fn(inputs)) for random
 * weights w against central differences, element by element. */
#include <math.h>

#include "core/error.h"
#include "core/tensor.h"

/* sum(weights * fn(inputs)) as a double, or NAN with an error. */
static double weighted_value(cg_gradcheck_fn fn, cg_tensor **inputs, void *userdata,
                             const cg_tensor *weights) {
    cg_scope_begin();
    double value = cg_item(cg_sum(cg_mul(fn(inputs, userdata), weights), CG_ALL_DIMS, false));
    cg_scope_end();
    return value;
}

int cg_gradcheck(cg_gradcheck_fn fn, cg_tensor **inputs, int count, void *userdata, double eps,
                 double atol, double rtol) {
    if (!fn || !inputs || count <= 0) {
        cg_error_set("gradcheck: need a function and at least one input");
        return -1;
    }
    for (int i = 0; i < count; i++) {
        if (!inputs[i]) return -1;
        if (inputs[i]->dtype != CG_FLOAT64 || !inputs[i]->requires_grad || inputs[i]->grad_fn ||
            !cg_tensor_is_contiguous(inputs[i])) {
            cg_error_set("gradcheck: input %d must be a contiguous float64 leaf requiring grad", i);
            return -1;
        }
        cg_zero_grad(inputs[i]);
    }
    int status = -1;
    cg_scope_begin();
    cg_tensor *probe = fn(inputs, userdata);
    cg_tensor *weights = probe ? cg_randn(cg_tensor_shape(probe), CG_FLOAT64) : NULL;
    cg_tensor *loss = weights ? cg_sum(cg_mul(probe, weights), CG_ALL_DIMS, false) : NULL;
    if (!loss || cg_backward(loss) != 0) goto done;
    const bool previous = cg_set_grad_enabled(false);
    status = 0;
    for (int i = 0; i < count && status == 0; i++) {
        cg_tensor *x = inputs[i];
        double *data = cg_tensor_data(x);
        const int64_t numel = cg_numel(x);
        for (int64_t j = 0; j < numel; j++) {
            const double saved = data[j];
            data[j] = saved + eps;
            const double plus = weighted_value(fn, inputs, userdata, weights);
            data[j] = saved - eps;
            const double minus = weighted_value(fn, inputs, userdata, weights);
            data[j] = saved;
            const double numeric = (plus - minus) / (2 * eps);
            const double analytic = x->grad ? ((const double *)cg_tensor_data(x->grad))[j] : 0.0;
            if (!(fabs(analytic - numeric) <= atol + rtol * fabs(numeric))) {
                cg_error_set("gradcheck: input %d %s element %lld: analytic %.10g, numeric %.10g",
                             i, cg_shape_text(x), (long long)j, analytic, numeric);
                status = -1;
                break;
            }
        }
    }
    cg_set_grad_enabled(previous);
done:
    cg_scope_end();
    return status;
}
