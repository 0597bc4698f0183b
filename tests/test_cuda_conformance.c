/* The backend conformance suite: every op, forward and backward, on random inputs of several
 * shapes, run on the CPU and on a device under test and compared (device_conformance.h), plus
 * optimizer steps, models, a training run's loss curve, the caching allocator and the errors of
 * mixed devices. Each suite takes the device under test: the cuda_* tests run them on cuda:0 and
 * skip themselves without a GPU; conformance_suite_checks_itself_on_the_cpu runs them with the
 * CPU as the device under test, which proves the suite's own code where no GPU is at hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device_conformance.h"
#include "temp_dir.h"
#include "test.h"

#define REQUIRE_GPU()                                                                              \
    do {                                                                                           \
        if (cg_cuda_device_count() == 0) SKIP(cg_last_error());                                    \
    } while (0)

typedef void (*suite_fn)(cg_device device);

static cg_tensor *normal(cg_shape shape) { return cg_randn(shape, CG_FLOAT32); }

/* Uniform in [0.5, 1.5): for log, sqrt, powers and divisors. */
static cg_tensor *positive(cg_shape shape) {
    return cg_add_scalar(cg_rand(shape, CG_FLOAT32), 0.5);
}

static bool same_device(cg_device a, cg_device b) {
    return a.type == b.type && (a.type == CG_DEVICE_CPU || a.index == b.index);
}

/* ----- elementwise ----- */

typedef struct {
    const char *name;
    cg_tensor *(*fn)(const cg_tensor *, const cg_tensor *);
    bool differentiable, positive_operands;
} binary_case;

static cg_tensor *apply_binary(cg_tensor *const *in, const void *params) {
    return ((const binary_case *)params)->fn(in[0], in[1]);
}

static const binary_case BINARY_CASES[] = {
    {"add", cg_add, true, false},         {"sub", cg_sub, true, false},
    {"mul", cg_mul, true, false},         {"div", cg_div, true, true},
    {"pow", cg_pow, true, true},          {"maximum", cg_maximum, true, false},
    {"minimum", cg_minimum, true, false}, {"eq", cg_eq, false, false},
    {"ne", cg_ne, false, false},          {"lt", cg_lt, false, false},
    {"le", cg_le, false, false},          {"gt", cg_gt, false, false},
    {"ge", cg_ge, false, false},
};

static void suite_binary(cg_device device) {
    /* Operand shapes: equal, broadcast along each side, and against a scalar. */
    const cg_shape shapes[][2] = {
        {CG_SHAPE(3, 4), CG_SHAPE(3, 4)},
        {CG_SHAPE(3, 4), CG_SHAPE(4)},
        {CG_SHAPE(2, 1, 5), CG_SHAPE(3, 1)},
        {CG_SHAPE(6), CG_SCALAR_SHAPE},
    };
    const size_t case_count = sizeof BINARY_CASES / sizeof BINARY_CASES[0];
    const size_t shape_count = sizeof shapes / sizeof shapes[0];
    for (size_t c = 0; c < case_count; c++) {
        const binary_case *op = &BINARY_CASES[c];
        for (size_t s = 0; s < shape_count; s++) {
            char what[96], shape_text[2][32];
            cg_scope_begin();
            cg_tensor *in[2];
            for (int k = 0; k < 2; k++)
                in[k] = op->positive_operands ? positive(shapes[s][k]) : normal(shapes[s][k]);
            snprintf(what, sizeof what, "%s of %s and %s", op->name,
                     cg_shape_format(shapes[s][0], shape_text[0], 32),
                     cg_shape_format(shapes[s][1], shape_text[1], 32));
            const bool ok = conformance_agree(device, what, apply_binary, op, in, 2,
                                              op->differentiable, conformance_summing(10));
            cg_scope_end();
            if (!ok) return;
        }
    }
    /* Integer arithmetic (uint8 wraps) and comparisons: add, sub, mul, maximum, minimum, lt. */
    const cg_dtype integer_dtypes[] = {CG_INT32, CG_INT64, CG_UINT8};
    const size_t integer_cases[] = {0, 1, 2, 5, 6, 9};
    for (size_t d = 0; d < sizeof integer_dtypes / sizeof integer_dtypes[0]; d++)
        for (size_t i = 0; i < sizeof integer_cases / sizeof integer_cases[0]; i++) {
            const size_t c = integer_cases[i];
            char what[96];
            cg_scope_begin();
            cg_tensor *in[2] = {cg_randint(0, 200, CG_SHAPE(5, 6), integer_dtypes[d]),
                                cg_randint(0, 4, CG_SHAPE(6), integer_dtypes[d])};
            snprintf(what, sizeof what, "%s of %s", BINARY_CASES[c].name,
                     cg_dtype_name(integer_dtypes[d]));
            const bool ok = conformance_agree(device, what, apply_binary, &BINARY_CASES[c], in, 2,
                                              false, CONFORMANCE_EXACT);
            cg_scope_end();
            if (!ok) return;
        }
}

static cg_tensor *apply_where(cg_tensor *const *in, const void *params) {
    (void)params;
    return cg_where(cg_gt(in[0], cg_zeros_like(in[0])), in[1], in[2]);
}

static void suite_where(cg_device device) {
    cg_scope_begin();
    cg_tensor *in[3] = {normal(CG_SHAPE(3, 1)), normal(CG_SHAPE(3, 4)), normal(CG_SHAPE(4))};
    conformance_agree(device, "where", apply_where, NULL, in, 3, true, conformance_summing(4));
    cg_scope_end();
}

typedef struct {
    const char *name;
    cg_tensor *(*fn)(const cg_tensor *);
    bool positive_input;
} unary_case;

static cg_tensor *apply_unary(cg_tensor *const *in, const void *params) {
    return ((const unary_case *)params)->fn(in[0]);
}

/* The unary ops with parameters, in one op selected by name. */
static cg_tensor *apply_parametrised(cg_tensor *const *in, const void *params) {
    const char *name = params;
    if (strcmp(name, "clamp") == 0) return cg_clamp(in[0], -0.5, 0.7);
    if (strcmp(name, "leaky_relu") == 0) return cg_leaky_relu(in[0], 0.1);
    if (strcmp(name, "elu") == 0) return cg_elu(in[0], 1.3);
    if (strcmp(name, "add_scalar") == 0) return cg_add_scalar(in[0], 2.5);
    if (strcmp(name, "mul_scalar") == 0) return cg_mul_scalar(in[0], -1.5);
    if (strcmp(name, "pow_scalar") == 0) return cg_pow_scalar(in[0], 2.5);
    /* A strided input: the transpose of a contiguous tensor. */
    return cg_tanh(cg_transpose(in[0], 0, 1));
}

static void suite_unary(cg_device device) {
    static const unary_case cases[] = {
        {"neg", cg_neg, false},           {"exp", cg_exp, false},   {"log", cg_log, true},
        {"sqrt", cg_sqrt, true},          {"abs", cg_abs, false},   {"sigmoid", cg_sigmoid, false},
        {"tanh", cg_tanh, false},         {"relu", cg_relu, false}, {"gelu", cg_gelu, false},
        {"softplus", cg_softplus, false},
    };
    static const char *const parametrised[] = {
        "clamp", "leaky_relu", "elu", "add_scalar", "mul_scalar", "pow_scalar", "transposed"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cg_scope_begin();
        cg_tensor *in[1] = {cases[c].positive_input ? positive(CG_SHAPE(7, 9))
                                                    : normal(CG_SHAPE(7, 9))};
        const bool ok = conformance_agree(device, cases[c].name, apply_unary, &cases[c], in, 1,
                                          true, CONFORMANCE_ELEMENTWISE);
        cg_scope_end();
        if (!ok) return;
    }
    for (size_t c = 0; c < sizeof parametrised / sizeof parametrised[0]; c++) {
        cg_scope_begin();
        cg_tensor *in[1] = {strcmp(parametrised[c], "pow_scalar") == 0 ? positive(CG_SHAPE(4, 5))
                                                                       : normal(CG_SHAPE(4, 5))};
        const bool ok = conformance_agree(device, parametrised[c], apply_parametrised,
                                          parametrised[c], in, 1, true, CONFORMANCE_ELEMENTWISE);
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- reductions ----- */

typedef struct {
    const char *name;
    cg_dims dims;
    bool keepdim;
} reduction_case;

static cg_tensor *apply_reduction(cg_tensor *const *in, const void *params) {
    const reduction_case *c = params;
    if (strcmp(c->name, "sum") == 0) return cg_sum(in[0], c->dims, c->keepdim);
    if (strcmp(c->name, "mean") == 0) return cg_mean(in[0], c->dims, c->keepdim);
    if (strcmp(c->name, "max") == 0) return cg_max(in[0], c->dims, c->keepdim);
    if (strcmp(c->name, "min") == 0) return cg_min(in[0], c->dims, c->keepdim);
    if (strcmp(c->name, "var") == 0) return cg_var(in[0], c->dims, true, c->keepdim);
    if (strcmp(c->name, "logsumexp") == 0) return cg_logsumexp(in[0], c->dims, c->keepdim);
    return cg_argmax(in[0], c->dims.dims[0], c->keepdim);
}

static void suite_reductions(cg_device device) {
    static const char *const names[] = {"sum", "mean", "max", "min", "var", "logsumexp"};
    const cg_dims dim_sets[] = {CG_ALL_DIMS, CG_DIMS(0), CG_DIMS(-1), CG_DIMS(0, 2)};
    /* A small tensor (a thread per output) and a large one (a block per output). */
    const cg_shape shapes[] = {CG_SHAPE(4, 5, 6), CG_SHAPE(128, 3, 300)};
    for (size_t s = 0; s < 2; s++)
        for (size_t n = 0; n < sizeof names / sizeof names[0]; n++)
            for (size_t d = 0; d < sizeof dim_sets / sizeof dim_sets[0]; d++) {
                char what[96], text[32];
                const reduction_case c = {names[n], dim_sets[d], d % 2 == 0};
                cg_scope_begin();
                cg_tensor *in[1] = {normal(shapes[s])};
                snprintf(what, sizeof what, "%s of %s over dim set %zu", names[n],
                         cg_shape_format(shapes[s], text, sizeof text), d);
                const bool ok = conformance_agree(device, what, apply_reduction, &c, in, 1, true,
                                                  conformance_summing(cg_numel(in[0])));
                cg_scope_end();
                if (!ok) return;
            }
    /* argmax of floats, and of integers with ties (the first one wins); integer sums. */
    for (int dim = 0; dim < 3; dim++) {
        const reduction_case argmax = {"argmax", CG_DIMS(dim), dim == 1};
        const reduction_case sum = {"sum", CG_DIMS(dim), false};
        cg_scope_begin();
        cg_tensor *floats[1] = {normal(CG_SHAPE(4, 5, 6))};
        cg_tensor *ints[1] = {cg_randint(0, 3, CG_SHAPE(4, 5, 6), CG_INT64)};
        cg_tensor *bytes[1] = {cg_randint(0, 256, CG_SHAPE(40, 5, 6), CG_UINT8)};
        const bool ok = conformance_agree(device, "argmax", apply_reduction, &argmax, floats, 1,
                                          false, CONFORMANCE_EXACT) &&
                        conformance_agree(device, "argmax of int64", apply_reduction, &argmax, ints,
                                          1, false, CONFORMANCE_EXACT) &&
                        conformance_agree(device, "sum of int64", apply_reduction, &sum, ints, 1,
                                          false, CONFORMANCE_EXACT) &&
                        conformance_agree(device, "sum of uint8 (wrapping)", apply_reduction, &sum,
                                          bytes, 1, false, CONFORMANCE_EXACT);
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- matrix products ----- */

static cg_tensor *apply_matmul(cg_tensor *const *in, const void *params) {
    const bool transposed = params != NULL;
    return cg_matmul(transposed ? cg_transpose(in[0], -1, -2) : in[0], in[1]);
}

static void suite_matmul(cg_device device) {
    const struct {
        cg_shape a, b;
        bool transposed;
    } cases[] = {
        {CG_SHAPE(5, 7), CG_SHAPE(7, 3), false},
        {CG_SHAPE(2, 3, 4), CG_SHAPE(4, 5), false},
        {CG_SHAPE(4), CG_SHAPE(4, 3), false},
        {CG_SHAPE(3, 4), CG_SHAPE(4), false},
        {CG_SHAPE(2, 1, 3, 4), CG_SHAPE(5, 4, 2), false},
        {CG_SHAPE(7, 5), CG_SHAPE(7, 3), true},
        {CG_SHAPE(2, 6, 3), CG_SHAPE(2, 6, 4), true},
        {CG_SHAPE(64, 784), CG_SHAPE(784, 128), false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char what[96], a_text[32], b_text[32];
        cg_scope_begin();
        cg_tensor *in[2] = {normal(cases[c].a), normal(cases[c].b)};
        snprintf(what, sizeof what, "matmul of %s%s and %s",
                 cg_shape_format(cases[c].a, a_text, sizeof a_text),
                 cases[c].transposed ? " (transposed)" : "",
                 cg_shape_format(cases[c].b, b_text, sizeof b_text));
        const int64_t terms = cases[c].b.ndim > 1 ? cases[c].b.dims[cases[c].b.ndim - 2] * 8 : 8;
        const bool ok =
            conformance_agree(device, what, apply_matmul, cases[c].transposed ? "transposed" : NULL,
                              in, 2, true, conformance_summing(terms));
        cg_scope_end();
        if (!ok) return;
    }
    /* float64 products too (gradient checks run in float64). */
    cg_scope_begin();
    cg_tensor *in[2] = {cg_randn(CG_SHAPE(6, 5), CG_FLOAT64), cg_randn(CG_SHAPE(5, 4), CG_FLOAT64)};
    conformance_agree(device, "float64 matmul", apply_matmul, NULL, in, 2, true,
                      (conformance_tolerance){1e-12, 1e-12});
    cg_scope_end();
}

/* The fused product: the activation follows the bias in the backend's epilogue kernel. */
static cg_tensor *apply_linear(cg_tensor *const *in, const void *params) {
    return cg_linear(in[0], in[1], in[2], *(const cg_activation *)params);
}

static void suite_linear(cg_device device) {
    static const cg_activation activations[] = {CG_ACTIVATION_NONE,       CG_ACTIVATION_RELU,
                                                CG_ACTIVATION_LEAKY_RELU, CG_ACTIVATION_SIGMOID,
                                                CG_ACTIVATION_TANH,       CG_ACTIVATION_GELU};
    for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++) {
        char what[64];
        cg_scope_begin();
        cg_tensor *in[3] = {normal(CG_SHAPE(33, 70)), normal(CG_SHAPE(20, 70)),
                            normal(CG_SHAPE(20))};
        snprintf(what, sizeof what, "linear with %s", cg_activation_name(activations[a]));
        const bool ok = conformance_agree(device, what, apply_linear, &activations[a], in, 3, true,
                                          conformance_summing(70 * 8));
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- softmax and losses ----- */

typedef struct {
    bool take_log;
    int dim;
} softmax_case;

static cg_tensor *apply_softmax(cg_tensor *const *in, const void *params) {
    const softmax_case *c = params;
    return c->take_log ? cg_log_softmax(in[0], c->dim) : cg_softmax(in[0], c->dim);
}

static cg_tensor *apply_loss(cg_tensor *const *in, const void *params) {
    const char *name = params;
    if (strcmp(name, "mse") == 0) return cg_mse_loss(in[0], in[1], CG_REDUCTION_MEAN);
    if (strcmp(name, "l1") == 0) return cg_l1_loss(in[0], in[1], CG_REDUCTION_SUM);
    if (strcmp(name, "bce") == 0) return cg_bce_with_logits(in[0], in[1], CG_REDUCTION_NONE);
    return cg_cross_entropy(in[0], in[1], CG_REDUCTION_MEAN);
}

static void suite_softmax_and_losses(cg_device device) {
    const cg_shape shapes[] = {CG_SHAPE(4, 10), CG_SHAPE(2, 3, 5)};
    for (size_t s = 0; s < 2; s++)
        for (int dim = 0; dim < shapes[s].ndim; dim++)
            for (int take_log = 0; take_log < 2; take_log++) {
                const softmax_case c = {take_log != 0, dim};
                cg_scope_begin();
                cg_tensor *in[1] = {cg_mul_scalar(normal(shapes[s]), 3.0)};
                const bool ok =
                    conformance_agree(device, take_log ? "log_softmax" : "softmax", apply_softmax,
                                      &c, in, 1, true, conformance_summing(shapes[s].dims[dim]));
                cg_scope_end();
                if (!ok) return;
            }
    static const char *const losses[] = {"mse", "l1", "bce"};
    for (size_t l = 0; l < 3; l++) {
        cg_scope_begin();
        cg_tensor *in[2] = {normal(CG_SHAPE(16, 3)), cg_rand(CG_SHAPE(16, 3), CG_FLOAT32)};
        const bool ok = conformance_agree(device, losses[l], apply_loss, losses[l], in, 2, true,
                                          conformance_summing(48));
        cg_scope_end();
        if (!ok) return;
    }
    cg_scope_begin();
    cg_tensor *in[2] = {normal(CG_SHAPE(32, 10)), cg_randint(0, 10, CG_SHAPE(32), CG_INT64)};
    conformance_agree(device, "cross_entropy", apply_loss, "cross_entropy", in, 2, true,
                      conformance_summing(320));
    cg_scope_end();
}

/* ----- indexing, joining, views and copies ----- */

static cg_tensor *apply_indexing(cg_tensor *const *in, const void *params) {
    const char *name = params;
    if (strcmp(name, "gather") == 0) return cg_gather(in[0], 1, in[1]);
    if (strcmp(name, "index_select") == 0) return cg_index_select(in[0], 0, in[1]);
    if (strcmp(name, "one_hot float32") == 0) return cg_one_hot(in[1], 5, CG_FLOAT32);
    if (strcmp(name, "one_hot uint8") == 0) return cg_one_hot(in[1], 5, CG_UINT8);
    if (strcmp(name, "concat") == 0) return cg_concat((cg_tensor *const[]){in[0], in[0]}, 2, 1);
    if (strcmp(name, "stack") == 0) return cg_stack((cg_tensor *const[]){in[0], in[0]}, 2, 0);
    if (strcmp(name, "slice") == 0) return cg_contiguous(cg_slice(in[0], 1, 1, 5, 2));
    if (strcmp(name, "permute") == 0) return cg_contiguous(cg_permute(in[0], CG_DIMS(1, 0)));
    if (strcmp(name, "expand") == 0)
        return cg_contiguous(cg_expand(cg_unsqueeze(in[0], 0), CG_SHAPE(3, 4, 5)));
    if (strcmp(name, "to int32") == 0) return cg_to_dtype(cg_mul_scalar(in[0], 10.0), CG_INT32);
    if (strcmp(name, "to float64") == 0) return cg_to_dtype(in[0], CG_FLOAT64);
    return cg_to_dtype(in[1], CG_FLOAT32);
}

static void suite_indexing(cg_device device) {
    static const char *const names[] = {
        "gather", "index_select", "one_hot float32", "one_hot uint8", "concat",     "stack",
        "slice",  "permute",      "expand",          "to int32",      "to float64", "from int64"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        cg_scope_begin();
        /* The index fits both gather (dim 1 of 4 x 5) and index_select (dim 0, 4 rows). */
        cg_tensor *in[2] = {normal(CG_SHAPE(4, 5)), cg_randint(0, 4, CG_SHAPE(4, 3), CG_INT64)};
        if (strcmp(names[n], "index_select") == 0) in[1] = cg_randint(0, 4, CG_SHAPE(6), CG_INT32);
        const bool ok = conformance_agree(device, names[n], apply_indexing, names[n], in, 2, true,
                                          conformance_summing(6));
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- dropout (the same seed gives the same mask on every device) ----- */

static cg_tensor *apply_dropout(cg_tensor *const *in, const void *params) {
    (void)params;
    return cg_dropout(in[0], 0.3, true);
}

static void suite_dropout(cg_device device) {
    cg_scope_begin();
    cg_tensor *in[1] = {normal(CG_SHAPE(33, 17))};
    conformance_agree(device, "dropout", apply_dropout, NULL, in, 1, true, CONFORMANCE_ELEMENTWISE);
    cg_scope_end();
}

/* ----- convolution and pooling ----- */

static cg_tensor *apply_conv(cg_tensor *const *in, const void *params) {
    return cg_conv2d(in[0], in[1], in[2], params);
}

static cg_tensor *apply_pool(cg_tensor *const *in, const void *params) {
    const char *name = params;
    if (strcmp(name, "max_pool2d") == 0) return cg_max_pool2d(in[0], 2, 3, 2, 2);
    if (strcmp(name, "avg_pool2d") == 0) return cg_avg_pool2d(in[0], 3, 2, 0, 0);
    return cg_global_avg_pool2d(in[0]);
}

static void suite_convolution(cg_device device) {
    /* With cuDNN in the build, float32 convolutions whose padding is the same on both sides run
     * through it, and the others through im2col: "same" padding of the kernel's even width (2)
     * pads one column on the right only. */
    const cg_conv2d_options options[] = {
        {0},
        {.stride_h = 2, .stride_w = 1, .padding_h = 1, .padding_w = 0},
        {.dilation_h = 1, .dilation_w = 2, .padding_same = true},
        {.padding_same = true},
        {.padding_h = 1, .padding_w = 1, .activation = CG_ACTIVATION_RELU},
        {.stride_h = 2, .stride_w = 2, .activation = CG_ACTIVATION_TANH},
    };
    for (size_t o = 0; o < sizeof options / sizeof options[0]; o++) {
        cg_scope_begin();
        cg_tensor *in[3] = {normal(CG_SHAPE(3, 3, 8, 7)), normal(CG_SHAPE(4, 3, 3, 2)),
                            normal(CG_SHAPE(4))};
        const bool ok = conformance_agree(device, "conv2d", apply_conv, &options[o], in, 3, true,
                                          conformance_summing(3 * 8 * 7 * 4));
        cg_scope_end();
        if (!ok) return;
    }
    static const char *const pools[] = {"max_pool2d", "avg_pool2d", "global_avg_pool2d"};
    for (size_t p = 0; p < 3; p++) {
        cg_scope_begin();
        cg_tensor *in[1] = {normal(CG_SHAPE(2, 3, 6, 7))};
        const bool ok = conformance_agree(device, pools[p], apply_pool, pools[p], in, 1, true,
                                          conformance_summing(42));
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- optimizers ----- */

/* Three steps of kind with options from the same parameter and gradients on device: the
 * parameter after them, on device. */
static cg_tensor *after_steps(cg_device device, cg_optimizer_kind kind,
                              const cg_optimizer_options *options, const cg_tensor *start,
                              cg_tensor *const *grads) {
    cg_optimizer *optimizer = cg_optimizer_new(kind, options);
    /* A copy: on the CPU, cg_to_device would share start's storage, which the steps update. */
    cg_tensor *param = cg_set_requires_grad(cg_clone(cg_to_device(start, device)), true);
    bool ok = optimizer && param;
    for (int step = 0; ok && step < 3; step++) {
        cg_zero_grad(param);
        cg_scope_begin();
        const cg_tensor *g = cg_to_device(grads[step], device);
        ok = cg_backward(cg_sum(cg_mul(param, g), CG_ALL_DIMS, false)) == 0 &&
             cg_optimizer_step(optimizer, &param, 1) == 0;
        cg_scope_end();
    }
    cg_optimizer_free(optimizer);
    if (param) cg_zero_grad(param);
    return ok ? param : NULL;
}

static void suite_optimizers(cg_device device) {
    cg_optimizer_options options[6];
    const cg_optimizer_kind kinds[6] = {CG_OPTIMIZER_SGD,     CG_OPTIMIZER_SGD,
                                        CG_OPTIMIZER_ADAM,    CG_OPTIMIZER_ADAMW,
                                        CG_OPTIMIZER_RMSPROP, CG_OPTIMIZER_RMSPROP};
    for (int k = 0; k < 6; k++)
        options[k] = cg_optimizer_defaults(kinds[k]);
    options[1].momentum = 0.9;
    options[1].nesterov = true;
    options[1].weight_decay = 0.01;
    options[2].clip_norm = 0.5;
    options[5].momentum = 0.5;
    for (int k = 0; k < 6; k++) {
        char what[64];
        cg_scope_begin();
        cg_tensor *start = normal(CG_SHAPE(6, 5));
        cg_tensor *grads[3] = {normal(CG_SHAPE(6, 5)), normal(CG_SHAPE(6, 5)),
                               normal(CG_SHAPE(6, 5))};
        cg_tensor *expected = after_steps(cg_device_cpu(), kinds[k], &options[k], start, grads);
        cg_tensor *actual = after_steps(device, kinds[k], &options[k], start, grads);
        snprintf(what, sizeof what, "%s steps (case %d)", cg_optimizer_name(kinds[k]), k);
        if (!expected || !actual) test_fail(__FILE__, __LINE__, "%s: %s", what, cg_last_error());
        const bool ok = expected && actual &&
                        conformance_close(what, actual, expected, conformance_summing(30));
        cg_scope_end();
        if (!ok) return;
    }
}

/* ----- models ----- */

/* A model of the given kind built from seed, on device. */
static cg_model *seeded_model(bool convolutional, cg_device device) {
    cg_manual_seed(0xC0DE);
    cg_model *model =
        convolutional
            ? cg_sequential(cg_layer_conv2d(4, 3, NULL), cg_layer_max_pool2d(2),
                            cg_layer_conv2d(6, 3, &(cg_conv2d_layer_options){.padding_same = true}),
                            cg_layer_avg_pool2d(2), cg_layer_flatten(),
                            cg_layer_dense(10, CG_ACTIVATION_NONE))
            : cg_sequential(cg_layer_dense(32, CG_ACTIVATION_RELU), cg_layer_batch_norm(),
                            cg_layer_dropout(0.2), cg_layer_dense(10, CG_ACTIVATION_NONE));
    const cg_shape input = convolutional ? CG_SHAPE(1, 12, 12) : CG_SHAPE(20);
    if (!model || cg_model_build(model, input) != 0 || cg_model_to_device(model, device) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

/* The gradients of a training-mode forward and backward of model on x and labels. */
static bool model_gradients(cg_model *model, const cg_tensor *x, const cg_tensor *labels) {
    const cg_device device = cg_model_device(model);
    cg_scope_begin();
    cg_manual_seed(0xD0);
    const cg_tensor *output = cg_model_forward(model, cg_to_device(x, device), true);
    const cg_tensor *loss =
        cg_loss_compute(CG_LOSS_CROSS_ENTROPY, output, cg_to_device(labels, device));
    const bool ok = loss && cg_backward((cg_tensor *)loss) == 0;
    cg_scope_end();
    return ok;
}

static void suite_models(cg_device device) {
    for (int convolutional = 0; convolutional < 2; convolutional++) {
        cg_model *expected = seeded_model(convolutional, cg_device_cpu());
        cg_model *actual = seeded_model(convolutional, device);
        cg_scope_begin();
        cg_tensor *x = convolutional ? normal(CG_SHAPE(8, 1, 12, 12)) : normal(CG_SHAPE(8, 20));
        cg_tensor *labels = cg_randint(0, 10, CG_SHAPE(8), CG_INT64);
        bool ok = expected && actual && model_gradients(expected, x, labels) &&
                  model_gradients(actual, x, labels);
        if (!ok) test_fail(__FILE__, __LINE__, "model forward/backward: %s", cg_last_error());
        int count = 0;
        cg_tensor *const *expected_params = ok ? cg_model_parameters(expected, &count) : NULL;
        cg_tensor *const *actual_params = ok ? cg_model_parameters(actual, &count) : NULL;
        for (int i = 0; ok && i < count; i++) {
            char what[96];
            snprintf(what, sizeof what, "gradient of %s (%s model)",
                     cg_model_parameter_name(expected, i), convolutional ? "conv" : "dense");
            ok = same_device(cg_tensor_device(actual_params[i]), device) &&
                 conformance_close(what, cg_grad(actual_params[i]), cg_grad(expected_params[i]),
                                   conformance_summing(400));
        }
        cg_scope_end();
        cg_model_free(expected);
        cg_model_free(actual);
        if (!ok) return;
    }
}

/* ----- training: the loss curve of an MNIST-sized MLP ----- */

enum { TRAIN_SAMPLES = 4096, TRAIN_EPOCHS = 8, TRAIN_BATCH = 128 };

/* Synthetic MNIST-sized data: 784 features, 10 classes whose means differ. */
static void mnist_sized_data(cg_tensor **x, cg_tensor **y) {
    cg_manual_seed(0xDA7A);
    cg_scope_begin();
    cg_tensor *labels = cg_randint(0, 10, CG_SHAPE(TRAIN_SAMPLES), CG_INT64);
    cg_tensor *centers = cg_randn(CG_SHAPE(10, 784), CG_FLOAT32);
    *x = cg_keep(cg_add(cg_index_select(centers, 0, labels),
                        cg_mul_scalar(cg_randn(CG_SHAPE(TRAIN_SAMPLES, 784), CG_FLOAT32), 2.0)));
    *y = cg_keep(labels);
    cg_scope_end();
}

/* The per-epoch training loss of a seeded 784-128-10 MLP trained on device (with its data there
 * when resident), or NULL. */
static cg_history *train_mlp(cg_device device, const cg_tensor *x, const cg_tensor *y,
                             bool resident) {
    cg_manual_seed(0x1234);
    cg_model *model = cg_sequential(cg_layer_dense(128, CG_ACTIVATION_RELU),
                                    cg_layer_dense(10, CG_ACTIVATION_NONE));
    cg_history *history = NULL;
    cg_scope_begin();
    const cg_tensor *data_x = resident ? cg_to_device(x, device) : x;
    const cg_tensor *data_y = resident ? cg_to_device(y, device) : y;
    if (model && cg_model_build(model, CG_SHAPE(784)) == 0 &&
        cg_model_to_device(model, device) == 0 &&
        cg_compile(model, cg_sgd(0.05, 0.9, false), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0)
        history = cg_fit(model, data_x, data_y,
                         &(cg_fit_options){.epochs = TRAIN_EPOCHS,
                                           .batch_size = TRAIN_BATCH,
                                           .seed = 7,
                                           .verbose = CG_VERBOSE_SILENT});
    cg_scope_end();
    cg_model_free(model);
    return history;
}

static bool curves_agree(const char *what, const cg_history *actual, const cg_history *expected) {
    const double *a = cg_history_series(actual, "loss"), *e = cg_history_series(expected, "loss");
    if (!a || !e || cg_history_epochs(actual) != TRAIN_EPOCHS) {
        test_fail(__FILE__, __LINE__, "%s: no loss curve", what);
        return false;
    }
    for (int epoch = 0; epoch < TRAIN_EPOCHS; epoch++)
        if (!(fabs(a[epoch] - e[epoch]) <= 1e-3 * fabs(e[epoch]) + 1e-5)) {
            test_fail(__FILE__, __LINE__, "%s: epoch %d loss %.8g, on the CPU %.8g", what,
                      epoch + 1, a[epoch], e[epoch]);
            return false;
        }
    return true;
}

static void suite_training(cg_device device) {
    cg_tensor *x, *y;
    mnist_sized_data(&x, &y);
    cg_history *expected = train_mlp(cg_device_cpu(), x, y, false);
    cg_history *streamed = train_mlp(device, x, y, false);
    cg_history *resident = train_mlp(device, x, y, true);
    if (!expected || !streamed || !resident)
        test_fail(__FILE__, __LINE__, "training failed: %s", cg_last_error());
    else if (curves_agree("data copied batch by batch", streamed, expected) &&
             curves_agree("data resident on the device", resident, expected)) {
        const double *loss = cg_history_series(expected, "loss");
        CHECK(loss[TRAIN_EPOCHS - 1] < 0.5 * loss[0]);
    }
    cg_history_free(expected);
    cg_history_free(streamed);
    cg_history_free(resident);
    cg_release(x);
    cg_release(y);
}

/* ----- the high level on a device: data sets, evaluate, predict, moves, saving ----- */

/* A seeded 4-16-3 Iris classifier with Adam, built on the CPU and moved to device. */
static cg_model *iris_model(cg_device device) {
    cg_manual_seed(0x1415);
    cg_model *model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_RELU),
                                    cg_layer_dense(3, CG_ACTIVATION_NONE));
    if (!model || cg_model_build(model, CG_SHAPE(4)) != 0 ||
        cg_model_to_device(model, device) != 0 ||
        cg_compile(model, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

static bool same_series(const char *what, const cg_history *actual, const cg_history *expected,
                        const char *series) {
    const double *a = cg_history_series(actual, series), *e = cg_history_series(expected, series);
    const int epochs = cg_history_epochs(expected);
    bool ok = a && e && cg_history_epochs(actual) == epochs;
    for (int i = 0; ok && i < epochs; i++)
        ok = fabs(a[i] - e[i]) <= 1e-4 * fabs(e[i]) + 1e-6;
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: the %s series differs from the CPU's", what, series);
    return ok;
}

/* Two epochs on data sets (the loader's batches copied to the device), evaluate and predict on
 * them, and a model saved from the device and loaded back on the CPU. */
static bool agree_on_data_sets(cg_device device, const cg_dataset *iris, const char *saved) {
    cg_model *models[2] = {iris_model(cg_device_cpu()), iris_model(device)};
    cg_history *histories[2] = {NULL, NULL};
    cg_evaluation evaluations[2];
    cg_tensor *predictions[2] = {NULL, NULL};
    const cg_fit_options options = {.epochs = 2, .batch_size = 16, .verbose = CG_VERBOSE_SILENT};
    bool ok = true;
    for (int m = 0; ok && m < 2; m++) {
        ok = models[m] && (histories[m] = cg_fit_dataset(models[m], iris, NULL, &options)) &&
             cg_evaluate_dataset(models[m], iris, 0, &evaluations[m]) == 0 &&
             (predictions[m] = cg_predict_dataset(models[m], iris, 0)) != NULL;
    }
    cg_model *loaded = ok && cg_model_save(models[1], saved) == 0 ? cg_model_load(saved) : NULL;
    cg_tensor *reloaded = loaded ? cg_predict_dataset(loaded, iris, 0) : NULL;
    if (!ok || !reloaded) test_fail(__FILE__, __LINE__, "data sets: %s", cg_last_error());
    ok = ok && reloaded && same_series("fit_dataset", histories[1], histories[0], "loss") &&
         same_device(cg_tensor_device(predictions[1]), device) &&
         conformance_close("predict_dataset", predictions[1], predictions[0],
                           conformance_summing(16)) &&
         conformance_close("a model saved from the device", reloaded, predictions[1],
                           conformance_summing(16));
    if (ok && !(fabs(evaluations[1].loss - evaluations[0].loss) <= 1e-5)) {
        test_fail(__FILE__, __LINE__, "evaluate_dataset: loss %.8g, on the CPU %.8g",
                  evaluations[1].loss, evaluations[0].loss);
        ok = false;
    }
    for (int m = 0; m < 2; m++) {
        cg_history_free(histories[m]);
        cg_release(predictions[m]);
        cg_model_free(models[m]);
    }
    cg_release(reloaded);
    cg_model_free(loaded);
    return ok;
}

/* One epoch on the CPU, the model (and its optimizer state) moved to device, a second epoch
 * there: the same curve as two epochs on the CPU. */
static bool agree_after_a_move(cg_device device, const cg_tensor *x, const cg_tensor *y) {
    cg_model *straight = iris_model(cg_device_cpu()), *moved = iris_model(cg_device_cpu());
    cg_fit_options options = {.epochs = 2, .batch_size = 16, .verbose = CG_VERBOSE_SILENT};
    cg_history *expected = straight ? cg_fit(straight, x, y, &options) : NULL;
    options.epochs = 1;
    cg_history *first = moved ? cg_fit(moved, x, y, &options) : NULL;
    options.epochs = 2;
    options.initial_epoch = 1;
    cg_history *second =
        first && cg_model_to_device(moved, device) == 0 ? cg_fit(moved, x, y, &options) : NULL;
    if (!expected || !second) test_fail(__FILE__, __LINE__, "a move: %s", cg_last_error());
    const double *all = expected ? cg_history_series(expected, "loss") : NULL;
    const double *last = second ? cg_history_series(second, "loss") : NULL;
    const bool ok = all && last && fabs(last[0] - all[1]) <= 1e-4 * fabs(all[1]);
    if (all && last && !ok)
        test_fail(__FILE__, __LINE__, "epoch 2 after a move: loss %.8g, on the CPU %.8g", last[0],
                  all[1]);
    cg_history_free(expected);
    cg_history_free(first);
    cg_history_free(second);
    cg_model_free(straight);
    cg_model_free(moved);
    return ok;
}

static void suite_high_level(cg_device device) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_dataset *iris = cg_csv_read(test_source_path("data/iris.csv"), NULL);
    const bool ok = iris &&
                    agree_on_data_sets(device, iris, temp_dir_file(&dir, "model.safetensors")) &&
                    agree_after_a_move(device, cg_dataset_features(iris), cg_dataset_labels(iris));
    cg_dataset_free(iris);
    temp_dir_remove(&dir);
    CHECK(ok);
}

/* ----- the caching allocator: steady steps allocate nothing new ----- */

static uint64_t system_allocations(cg_device device) {
    cg_memory_stats stats = cg_memory_get_stats();
    if (device.type == CG_DEVICE_CUDA && cg_cuda_memory_stats(device.index, &stats) != 0)
        return UINT64_MAX;
    return stats.system_allocs;
}

static void suite_allocator(cg_device device) {
    cg_manual_seed(9);
    cg_model *model = cg_sequential(cg_layer_dense(64, CG_ACTIVATION_RELU),
                                    cg_layer_dense(10, CG_ACTIVATION_NONE));
    CHECK(model && cg_model_build(model, CG_SHAPE(100)) == 0 &&
          cg_model_to_device(model, device) == 0 &&
          cg_compile(model, cg_adam(1e-3), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    cg_scope_begin();
    cg_tensor *x = cg_keep(cg_to_device(cg_randn(CG_SHAPE(32, 100), CG_FLOAT32), device));
    cg_tensor *y = cg_keep(cg_to_device(cg_randint(0, 10, CG_SHAPE(32), CG_INT64), device));
    cg_scope_end();
    int count;
    cg_tensor *const *params = cg_model_parameters(model, &count);
    uint64_t after_first = 0;
    bool ok = x && y;
    for (int step = 0; ok && step < 6; step++) {
        cg_scope_begin();
        cg_tensor *loss =
            cg_loss_compute(CG_LOSS_CROSS_ENTROPY, cg_model_forward(model, x, true), y);
        ok = loss && cg_backward(loss) == 0 &&
             cg_optimizer_step(cg_model_optimizer(model), params, count) == 0 &&
             !isnan(cg_item(loss));
        cg_model_zero_grad(model);
        cg_scope_end();
        if (step == 1) after_first = system_allocations(device);
    }
    const uint64_t after_last = system_allocations(device);
    cg_release(x);
    cg_release(y);
    cg_model_free(model);
    CHECK(ok);
    CHECK(after_last == after_first);
}

/* ----- mixed devices, reads, saving ----- */

static void suite_devices_and_reads(cg_device device) {
    char name[32];
    snprintf(name, sizeof name, "%s%d",
             device.type == CG_DEVICE_CPU ? "cpu" : "cuda:", device.index);
    cg_scope_begin();
    cg_tensor *host = cg_arange(0, 6, 1, CG_FLOAT32);
    cg_tensor *there = cg_to_device(host, device);
    CHECK(there && same_device(cg_tensor_device(there), device));
    CHECK_NEAR(cg_get(there, (const int64_t[]){4}), 4.0, 0);
    CHECK(cg_set(there, (const int64_t[]){4}, 9.5) == 0);
    CHECK_NEAR(cg_item(cg_sum(there, CG_ALL_DIMS, false)), 20.5, 0);
    float values[6];
    CHECK(cg_copy_to_array(cg_transpose(cg_reshape(there, CG_SHAPE(2, 3)), 0, 1), values,
                           sizeof values) == 0);
    CHECK_NEAR(values[1], 3.0, 0);
    CHECK_NEAR(values[4], 2.0, 0);
    /* A gradient crosses back to the CPU through to_device. */
    cg_tensor *leaf = cg_set_requires_grad(cg_detach(host), true);
    CHECK(cg_backward(cg_sum(cg_mul(cg_to_device(leaf, device), cg_to_device(leaf, device)),
                             CG_ALL_DIMS, false)) == 0);
    CHECK(same_device(cg_tensor_device(cg_grad(leaf)), cg_device_cpu()));
    CHECK_NEAR(cg_get(cg_grad(leaf), (const int64_t[]){5}), 10.0, 0);
    if (device.type != CG_DEVICE_CPU) {
        CHECK_ERROR(cg_add(host, there), "cpu");
        CHECK_ERROR(cg_add(host, there), name);
        CHECK_ERROR(cg_matmul(cg_reshape(there, CG_SHAPE(2, 3)), cg_reshape(host, CG_SHAPE(3, 2))),
                    "different devices");
        /* An index out of range is reported at the next read. */
        cg_tensor *bad =
            cg_gather(there, 0, cg_to_device(cg_full(CG_SHAPE(2), 7, CG_INT64), device));
        CHECK_ERROR(cg_item(cg_sum(bad, CG_ALL_DIMS, false)), "out of range");
        CHECK_NEAR(cg_item(cg_sum(there, CG_ALL_DIMS, false)), 20.5, 0);
        /* On a GPU the class labels are not read before the loss runs (that would wait for the
         * queued kernels at every step): the gather meets label 5 of 3 classes and the next read
         * reports it. */
        cg_tensor *logits = cg_zeros_on(CG_SHAPE(2, 3), CG_FLOAT32, device);
        cg_tensor *labels = cg_to_device(cg_full(CG_SHAPE(2), 5, CG_INT64), device);
        cg_tensor *loss = cg_cross_entropy(logits, labels, CG_REDUCTION_MEAN);
        CHECK(loss != NULL);
        CHECK_ERROR(cg_item(loss), "index 5 is out of range for a dimension of size 3");
        CHECK_NEAR(cg_item(cg_sum(there, CG_ALL_DIMS, false)), 20.5, 0);
    }
    cg_scope_end();
}

/* ----- the tests ----- */

static const struct {
    const char *name;
    suite_fn run;
} SUITES[] = {
    {"binary", suite_binary},
    {"where", suite_where},
    {"unary", suite_unary},
    {"reductions", suite_reductions},
    {"matmul", suite_matmul},
    {"linear", suite_linear},
    {"softmax and losses", suite_softmax_and_losses},
    {"indexing", suite_indexing},
    {"dropout", suite_dropout},
    {"convolution", suite_convolution},
    {"optimizers", suite_optimizers},
    {"models", suite_models},
    {"training", suite_training},
    {"allocator", suite_allocator},
    {"devices and reads", suite_devices_and_reads},
};

#define GPU_TEST(suite)                                                                            \
    TEST(cuda_conformance_##suite) {                                                               \
        REQUIRE_GPU();                                                                             \
        suite_##suite(cg_device_cuda(0));                                                          \
    }

GPU_TEST(binary)
GPU_TEST(where)
GPU_TEST(unary)
GPU_TEST(reductions)
GPU_TEST(matmul)
GPU_TEST(linear)
GPU_TEST(softmax_and_losses)
GPU_TEST(indexing)
GPU_TEST(dropout)
GPU_TEST(convolution)
GPU_TEST(optimizers)
GPU_TEST(models)
GPU_TEST(training)
GPU_TEST(high_level)
GPU_TEST(allocator)
GPU_TEST(devices_and_reads)

TEST(conformance_suite_checks_itself_on_the_cpu) {
    for (size_t s = 0; s < sizeof SUITES / sizeof SUITES[0]; s++) {
        SUITES[s].run(cg_device_cpu());
        if (test_failed()) {
            test_fail(__FILE__, __LINE__, "in the %s suite", SUITES[s].name);
            return;
        }
    }
}
