/* Finite-difference gradient checks (float64) of every differentiable op in the elementwise,
 * reduction, matmul and view families, one table per family, plus chained expressions. */
#include <stdlib.h>

#include "test.h"

enum { MAX_INPUTS = 4 };

static const double GRADCHECK_EPS = 1e-6, GRADCHECK_ATOL = 1e-7, GRADCHECK_RTOL = 1e-5;

/* How an input's values are drawn, so that no element sits at a point where the op is not
 * differentiable. */
typedef enum {
    VALUES_NORMAL,   /* standard normal */
    VALUES_POSITIVE, /* uniform in [0.5, 2): log, sqrt, fractional powers, divisors */
    /* A shuffled grid 0.25 apart, offset from the multiples of 0.25 by a per-input amount:
     * no zeros, no ties within a tensor or between inputs, no element at a clamp bound. */
    VALUES_GRID,
} value_kind;

typedef cg_tensor *(*unary_op)(const cg_tensor *);
typedef cg_tensor *(*binary_op)(const cg_tensor *, const cg_tensor *);
typedef cg_tensor *(*scalar_op)(const cg_tensor *, double);
typedef cg_tensor *(*reduce_op)(const cg_tensor *, cg_dims, bool);

/* The arguments of the op under test; each applier reads the fields it needs. */
typedef struct {
    unary_op unary;
    binary_op binary;
    scalar_op with_scalar;
    reduce_op reduce;
    double scalar, scalar2;
    cg_dims dims;
    bool keepdim, unbiased;
    int dim0, dim1;
    int64_t start, end, step;
    cg_shape shape;
    bool transpose_a, transpose_b;
} op_args;

typedef struct {
    const char *name;
    cg_gradcheck_fn apply;
    op_args args;
    int input_count;
    cg_shape shapes[MAX_INPUTS];
    value_kind values[MAX_INPUTS];
} gradcheck_case;

#define ARGS(userdata) ((const op_args *)(userdata))

/* ----- appliers: one per call signature ----- */

static cg_tensor *apply_unary(cg_tensor **in, void *u) { return ARGS(u)->unary(in[0]); }

static cg_tensor *apply_binary(cg_tensor **in, void *u) { return ARGS(u)->binary(in[0], in[1]); }

static cg_tensor *apply_with_scalar(cg_tensor **in, void *u) {
    return ARGS(u)->with_scalar(in[0], ARGS(u)->scalar);
}

static cg_tensor *apply_clamp(cg_tensor **in, void *u) {
    return cg_clamp(in[0], ARGS(u)->scalar, ARGS(u)->scalar2);
}

/* The condition is a fixed 0/1 pattern of args.shape (not an input: perturbing it would flip
 * zeros). */
static cg_tensor *apply_where(cg_tensor **in, void *u) {
    static const double pattern[24] = {1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1,
                                       0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1};
    cg_tensor *cond = cg_from_array(pattern, ARGS(u)->shape, CG_FLOAT64);
    return cg_where(cond, in[0], in[1]);
}

static cg_tensor *apply_reduce(cg_tensor **in, void *u) {
    return ARGS(u)->reduce(in[0], ARGS(u)->dims, ARGS(u)->keepdim);
}

static cg_tensor *apply_var(cg_tensor **in, void *u) {
    return cg_var(in[0], ARGS(u)->dims, ARGS(u)->unbiased, ARGS(u)->keepdim);
}

/* Swaps the last two dims when asked, so transposed (column-major) views reach matmul. */
static cg_tensor *maybe_transposed(cg_tensor *x, bool transpose) {
    return transpose ? cg_transpose(x, -1, -2) : x;
}

static cg_tensor *apply_matmul(cg_tensor **in, void *u) {
    return cg_matmul(maybe_transposed(in[0], ARGS(u)->transpose_a),
                     maybe_transposed(in[1], ARGS(u)->transpose_b));
}

static cg_tensor *apply_reshape(cg_tensor **in, void *u) {
    return cg_reshape(in[0], ARGS(u)->shape);
}

static cg_tensor *apply_view(cg_tensor **in, void *u) { return cg_view(in[0], ARGS(u)->shape); }

static cg_tensor *apply_flatten(cg_tensor **in, void *u) {
    return cg_flatten(in[0], ARGS(u)->dim0, ARGS(u)->dim1);
}

static cg_tensor *apply_transpose(cg_tensor **in, void *u) {
    return cg_transpose(in[0], ARGS(u)->dim0, ARGS(u)->dim1);
}

static cg_tensor *apply_permute(cg_tensor **in, void *u) {
    return cg_permute(in[0], ARGS(u)->dims);
}

static cg_tensor *apply_slice(cg_tensor **in, void *u) {
    const op_args *a = ARGS(u);
    return cg_slice(in[0], a->dim0, a->start, a->end, a->step);
}

static cg_tensor *apply_narrow(cg_tensor **in, void *u) {
    const op_args *a = ARGS(u);
    return cg_narrow(in[0], a->dim0, a->start, a->end);
}

static cg_tensor *apply_squeeze(cg_tensor **in, void *u) {
    return cg_squeeze(in[0], ARGS(u)->dim0);
}

static cg_tensor *apply_unsqueeze(cg_tensor **in, void *u) {
    return cg_unsqueeze(in[0], ARGS(u)->dim0);
}

static cg_tensor *apply_expand(cg_tensor **in, void *u) { return cg_expand(in[0], ARGS(u)->shape); }

/* Transposing dim0 and dim1 first makes the input non-contiguous (a real copy) unless they are
 * the same dim (the alias path). */
static cg_tensor *apply_contiguous(cg_tensor **in, void *u) {
    return cg_contiguous(cg_transpose(in[0], ARGS(u)->dim0, ARGS(u)->dim1));
}

static cg_tensor *to_float64(const cg_tensor *x) { return cg_to_dtype(x, CG_FLOAT64); }

/* ----- chained expressions ----- */

/* sum(tanh(x @ W1 + b1) @ W2): a two-layer network's output. */
static cg_tensor *mlp_output(cg_tensor **in, void *u) {
    (void)u;
    cg_tensor *hidden = cg_tanh(cg_add(cg_matmul(in[0], in[1]), in[2]));
    return cg_sum(cg_matmul(hidden, in[3]), CG_ALL_DIMS, false);
}

static cg_tensor *logsumexp_of_matmul(cg_tensor **in, void *u) {
    (void)u;
    return cg_logsumexp(cg_matmul(in[0], in[1]), CG_DIMS(-1), false);
}

/* x * exp(x) - x / (1 + x^2): x reaches the output along four paths. */
static cg_tensor *input_used_four_times(cg_tensor **in, void *u) {
    (void)u;
    cg_tensor *x = in[0];
    cg_tensor *denominator = cg_add_scalar(cg_mul(x, x), 1.0);
    return cg_sub(cg_mul(x, cg_exp(x)), cg_div(x, denominator));
}

/* x @ x^T: both operands of one matmul are the same tensor. */
static cg_tensor *gram_matrix(cg_tensor **in, void *u) {
    (void)u;
    return cg_matmul(in[0], cg_transpose(in[0], 0, 1));
}

/* (a - mean(a)) * b + a * b with a broadcast b. */
static cg_tensor *broadcast_operands_used_twice(cg_tensor **in, void *u) {
    (void)u;
    cg_tensor *centered = cg_sub(in[0], cg_mean(in[0], CG_DIMS(0), true));
    return cg_add(cg_mul(centered, in[1]), cg_mul(in[0], in[1]));
}

/* A reshape of a transposed view must copy; the gradient must come back through the copy. */
static cg_tensor *reshape_of_transposed_view(cg_tensor **in, void *u) {
    (void)u;
    return cg_mul(cg_reshape(cg_transpose(in[0], 0, 1), CG_SHAPE(-1)), cg_sigmoid(in[1]));
}

/* Every other row of a transposed view, scaled elementwise by itself. */
static cg_tensor *stepped_slice_of_transposed_view(cg_tensor **in, void *u) {
    (void)u;
    cg_tensor *rows = cg_slice(cg_transpose(in[0], 0, 1), 0, 1, 6, 2);
    return cg_mul(rows, cg_softplus(rows));
}

/* A matmul operand with no unit stride (a stepped slice) goes through a contiguous copy. */
static cg_tensor *matmul_of_stepped_slice(cg_tensor **in, void *u) {
    (void)u;
    return cg_matmul(cg_slice(in[0], 1, 0, 8, 2), in[1]);
}

/* A matmul operand whose rows are all the same memory (stride 0). */
static cg_tensor *matmul_of_expanded_rows(cg_tensor **in, void *u) {
    (void)u;
    return cg_matmul(cg_expand(in[0], CG_SHAPE(3, 4)), in[1]);
}

static cg_tensor *squeeze_all_then_sum(cg_tensor **in, void *u) {
    (void)u;
    return cg_sum(cg_mul(cg_squeeze_all(in[0]), in[1]), CG_DIMS(0), false);
}

/* var and logsumexp over an expanded view: gradients summed over the broadcast dims. */
static cg_tensor *reductions_of_expanded_view(cg_tensor **in, void *u) {
    (void)u;
    cg_tensor *wide = cg_expand(in[0], CG_SHAPE(2, 3, 4));
    return cg_add(cg_var(wide, CG_DIMS(0, 2), true, false),
                  cg_logsumexp(wide, CG_DIMS(-1, 0), false));
}

/* ----- inputs and the runner ----- */

static int64_t gcd(int64_t a, int64_t b) { return b == 0 ? a : gcd(b, a % b); }

static int64_t shape_numel(cg_shape shape) {
    int64_t n = 1;
    for (int d = 0; d < shape.ndim; d++)
        n *= shape.dims[d];
    return n;
}

static double *draw_values(cg_shape shape, value_kind kind, int input_index) {
    const int64_t n = shape_numel(shape);
    double *values = malloc(sizeof(double) * (size_t)n);
    if (!values) return NULL;
    if (kind == VALUES_GRID) {
        int64_t step = 7;
        while (gcd(step, n) != 1)
            step += 2;
        for (int64_t i = 0; i < n; i++)
            values[i] = 0.25 * (double)((i * step) % n - n / 2) + 0.1 + 0.05 * input_index;
        return values;
    }
    cg_tensor *random =
        kind == VALUES_NORMAL ? cg_randn(shape, CG_FLOAT64) : cg_rand(shape, CG_FLOAT64);
    const int status = cg_copy_to_array(random, values, sizeof(double) * (size_t)n);
    cg_release(random);
    if (status != 0) {
        free(values);
        return NULL;
    }
    if (kind == VALUES_POSITIVE)
        for (int64_t i = 0; i < n; i++)
            values[i] = 0.5 + 1.5 * values[i];
    return values;
}

static cg_tensor *make_input(cg_shape shape, value_kind kind, int input_index) {
    double *values = draw_values(shape, kind, input_index);
    if (!values) return NULL;
    cg_tensor *t = cg_from_array(values, shape, CG_FLOAT64);
    free(values);
    return cg_set_requires_grad(t, true);
}

/* Runs every case, reporting each failure with the case's name (the run goes on, so one
 * report shows every failing op). */
static void run_cases(const gradcheck_case *cases, int count, const char *file, int line) {
    for (int c = 0; c < count; c++) {
        const gradcheck_case *gc = &cases[c];
        cg_tensor *inputs[MAX_INPUTS] = {0};
        bool made = true;
        for (int i = 0; i < gc->input_count; i++) {
            inputs[i] = make_input(gc->shapes[i], gc->values[i], i);
            made = made && inputs[i];
        }
        op_args args = gc->args;
        if (!made || cg_gradcheck(gc->apply, inputs, gc->input_count, &args, GRADCHECK_EPS,
                                  GRADCHECK_ATOL, GRADCHECK_RTOL) != 0)
            test_fail(file, line, "gradcheck of %s: %s", gc->name, cg_last_error());
        for (int i = 0; i < gc->input_count; i++)
            cg_release(inputs[i]);
    }
}

#define RUN_CASES(cases)                                                                           \
    run_cases((cases), (int)(sizeof(cases) / sizeof((cases)[0])), __FILE__, __LINE__)

/* Shorthands for the tables. */
#define S CG_SHAPE
#define SCALAR CG_SCALAR_SHAPE
#define D CG_DIMS
#define ALL CG_ALL_DIMS
#define N VALUES_NORMAL
#define P VALUES_POSITIVE
#define G VALUES_GRID
#define UNARY(fn, shape, kind)                                                                     \
    ((gradcheck_case){.name = #fn " " #shape,                                                      \
                      .apply = apply_unary,                                                        \
                      .args = {.unary = fn},                                                       \
                      .input_count = 1,                                                            \
                      .shapes = {shape},                                                           \
                      .values = {kind}})
#define BINARY(fn, shape_a, shape_b, kind_a, kind_b)                                               \
    ((gradcheck_case){.name = #fn " " #shape_a " " #shape_b,                                       \
                      .apply = apply_binary,                                                       \
                      .args = {.binary = fn},                                                      \
                      .input_count = 2,                                                            \
                      .shapes = {shape_a, shape_b},                                                \
                      .values = {kind_a, kind_b}})
#define WITH_SCALAR(fn, value, shape, kind)                                                        \
    ((gradcheck_case){.name = #fn "(" #value ") " #shape,                                          \
                      .apply = apply_with_scalar,                                                  \
                      .args = {.with_scalar = fn, .scalar = value},                                \
                      .input_count = 1,                                                            \
                      .shapes = {shape},                                                           \
                      .values = {kind}})
#define REDUCE(fn, dim_list, keep, shape, kind)                                                    \
    ((gradcheck_case){.name = #fn " " #shape " over " #dim_list " keepdim=" #keep,                 \
                      .apply = apply_reduce,                                                       \
                      .args = {.reduce = fn, .dims = dim_list, .keepdim = keep},                   \
                      .input_count = 1,                                                            \
                      .shapes = {shape},                                                           \
                      .values = {kind}})
#define MATMUL(shape_a, transpose_a_, shape_b, transpose_b_)                                       \
    ((gradcheck_case){.name = "matmul " #shape_a " transposed=" #transpose_a_ " @ " #shape_b       \
                              " transposed=" #transpose_b_,                                        \
                      .apply = apply_matmul,                                                       \
                      .args = {.transpose_a = transpose_a_, .transpose_b = transpose_b_},          \
                      .input_count = 2,                                                            \
                      .shapes = {shape_a, shape_b},                                                \
                      .values = {N, N}})
#define WHERE(cond_shape, shape_a, shape_b)                                                        \
    ((gradcheck_case){.name = "where " #cond_shape " " #shape_a " " #shape_b,                      \
                      .apply = apply_where,                                                        \
                      .args = {.shape = cond_shape},                                               \
                      .input_count = 2,                                                            \
                      .shapes = {shape_a, shape_b},                                                \
                      .values = {N, N}})
#define CLAMP(low, high, shape)                                                                    \
    ((gradcheck_case){.name = "clamp(" #low ", " #high ") " #shape,                                \
                      .apply = apply_clamp,                                                        \
                      .args = {.scalar = low, .scalar2 = high},                                    \
                      .input_count = 1,                                                            \
                      .shapes = {shape},                                                           \
                      .values = {G}})
/* An expression of normal inputs of the given shapes. */
#define EXPRESSION(fn, ...)                                                                        \
    ((gradcheck_case){.name = #fn,                                                                 \
                      .apply = fn,                                                                 \
                      .input_count = (int)(sizeof((cg_shape[]){__VA_ARGS__}) / sizeof(cg_shape)),  \
                      .shapes = {__VA_ARGS__},                                                     \
                      .values = {N, N, N, N}})
/* A one-input case on normal values with the given op_args fields. */
#define ONE_INPUT(label, applier, shape, ...)                                                      \
    ((gradcheck_case){.name = label " " #shape,                                                    \
                      .apply = applier,                                                            \
                      .args = {__VA_ARGS__},                                                       \
                      .input_count = 1,                                                            \
                      .shapes = {shape},                                                           \
                      .values = {N}})

static cg_tensor *product_with_detached_self(cg_tensor **in, void *u) {
    (void)u;
    return cg_mul(in[0], cg_detach(in[0]));
}

TEST(gradcheck_detects_a_wrong_gradient) {
    /* x * detach(x) has analytic gradient x but numeric gradient 2x. */
    cg_tensor *x = make_input(S(3), VALUES_POSITIVE, 0);
    CHECK(x);
    CHECK_ERROR(cg_gradcheck(product_with_detached_self, &x, 1, NULL, GRADCHECK_EPS, GRADCHECK_ATOL,
                             GRADCHECK_RTOL),
                "analytic");
    cg_release(x);
}

TEST(gradcheck_elementwise_binary) {
    const gradcheck_case cases[] = {
        BINARY(cg_add, S(3, 4), S(3, 4), N, N),
        BINARY(cg_add, S(3, 1, 4), S(2, 4), N, N),
        BINARY(cg_add, SCALAR, S(3), N, N),
        BINARY(cg_sub, S(3, 1, 4), S(2, 4), N, N),
        BINARY(cg_sub, S(4), S(2, 1), N, N),
        BINARY(cg_sub, S(2, 3), SCALAR, N, N),
        BINARY(cg_mul, S(3, 4), S(3, 4), N, N),
        BINARY(cg_mul, S(3, 1, 4), S(2, 4), N, N),
        BINARY(cg_mul, S(2, 3), SCALAR, N, N),
        BINARY(cg_div, S(3, 4), S(3, 4), N, P),
        BINARY(cg_div, S(3, 1, 4), S(2, 4), N, G),
        BINARY(cg_div, SCALAR, S(3), N, P),
        BINARY(cg_pow, S(3, 4), S(3, 4), P, N),
        BINARY(cg_pow, S(3, 1, 4), S(2, 4), P, N),
        BINARY(cg_pow, SCALAR, S(3), P, N),
        BINARY(cg_pow, S(2, 3), SCALAR, P, N),
        BINARY(cg_maximum, S(3, 4), S(3, 4), G, G),
        BINARY(cg_maximum, S(3, 1, 4), S(2, 4), G, G),
        BINARY(cg_maximum, S(3), SCALAR, G, G),
        BINARY(cg_minimum, S(3, 4), S(3, 4), G, G),
        BINARY(cg_minimum, S(3, 1, 4), S(2, 4), G, G),
        BINARY(cg_minimum, SCALAR, S(3), G, G),
        WHERE(S(3, 1), S(3, 4), S(4)),
        WHERE(S(2, 3), SCALAR, S(2, 3)),
        WHERE(S(2, 3, 4), S(4), S(3, 1)),
    };
    RUN_CASES(cases);
}

TEST(gradcheck_elementwise_unary) {
    const gradcheck_case cases[] = {
        UNARY(cg_neg, S(3, 4), N),
        UNARY(cg_neg, SCALAR, N),
        UNARY(cg_exp, S(2, 3, 4), N),
        UNARY(cg_exp, SCALAR, N),
        UNARY(cg_log, S(3, 4), P),
        UNARY(cg_log, SCALAR, P),
        UNARY(cg_sqrt, S(3, 4), P),
        UNARY(cg_sqrt, SCALAR, P),
        UNARY(cg_abs, S(3, 4), G),
        UNARY(cg_abs, S(5), G),
        UNARY(cg_sigmoid, S(3, 4), N),
        UNARY(cg_sigmoid, SCALAR, N),
        UNARY(cg_tanh, S(3, 4), N),
        UNARY(cg_tanh, S(2, 1, 3), N),
        UNARY(cg_relu, S(3, 4), G),
        UNARY(cg_relu, S(7), G),
        UNARY(cg_gelu, S(3, 4), N),
        UNARY(cg_gelu, S(5), G),
        UNARY(cg_softplus, S(3, 4), N),
        UNARY(cg_softplus, S(5), G),
        WITH_SCALAR(cg_add_scalar, 2.5, S(3, 4), N),
        WITH_SCALAR(cg_add_scalar, -1.0, SCALAR, N),
        WITH_SCALAR(cg_mul_scalar, -1.5, S(3, 4), N),
        WITH_SCALAR(cg_mul_scalar, 0.25, SCALAR, N),
        WITH_SCALAR(cg_pow_scalar, 2.5, S(3, 4), P),
        WITH_SCALAR(cg_pow_scalar, -1.5, S(5), P),
        WITH_SCALAR(cg_pow_scalar, 3.0, S(3, 4), N),
        WITH_SCALAR(cg_leaky_relu, 0.1, S(3, 4), G),
        WITH_SCALAR(cg_leaky_relu, 0.01, S(7), G),
        WITH_SCALAR(cg_elu, 1.0, S(3, 4), G),
        WITH_SCALAR(cg_elu, 0.5, S(7), G),
        CLAMP(-0.5, 0.5, S(3, 4)),
        CLAMP(-INFINITY, 0.5, S(7)),
        CLAMP(-0.5, INFINITY, S(7)),
    };
    RUN_CASES(cases);
}

TEST(gradcheck_reductions) {
    const gradcheck_case cases[] = {
        REDUCE(cg_sum, ALL, false, S(2, 3, 4), N),
        REDUCE(cg_sum, ALL, true, S(2, 3, 4), N),
        REDUCE(cg_sum, D(1), false, S(2, 3, 4), N),
        REDUCE(cg_sum, D(0, 2), true, S(2, 3, 4), N),
        REDUCE(cg_sum, D(-1), false, S(2, 3, 4), N),
        REDUCE(cg_sum, D(-3, -1), true, S(2, 3, 4), N),
        REDUCE(cg_sum, ALL, false, SCALAR, N),
        REDUCE(cg_mean, ALL, false, S(2, 3, 4), N),
        REDUCE(cg_mean, D(1), true, S(2, 3, 4), N),
        REDUCE(cg_mean, D(-1, 0), false, S(2, 3, 4), N),
        REDUCE(cg_mean, D(0), false, S(5), N),
        REDUCE(cg_max, ALL, false, S(2, 3, 4), G),
        REDUCE(cg_max, D(1), true, S(2, 3, 4), G),
        REDUCE(cg_max, D(0, 2), false, S(2, 3, 4), G),
        REDUCE(cg_max, D(-1), true, S(2, 3, 4), G),
        REDUCE(cg_min, ALL, true, S(2, 3, 4), G),
        REDUCE(cg_min, D(-2), false, S(2, 3, 4), G),
        REDUCE(cg_min, D(0, -1), true, S(2, 3, 4), G),
        REDUCE(cg_logsumexp, ALL, false, S(2, 3, 4), N),
        REDUCE(cg_logsumexp, D(-1), false, S(2, 3, 4), N),
        REDUCE(cg_logsumexp, D(0, 1), true, S(2, 3, 4), N),
        REDUCE(cg_logsumexp, D(0), true, S(5), N),
        ONE_INPUT("var unbiased over D(-1)", apply_var, S(2, 3, 4), .dims = D(-1),
                  .unbiased = true),
        ONE_INPUT("var biased over ALL", apply_var, S(2, 3, 4), .dims = ALL),
        ONE_INPUT("var unbiased keepdim over D(0, 2)", apply_var, S(2, 3, 4), .dims = D(0, 2),
                  .unbiased = true, .keepdim = true),
        ONE_INPUT("var biased keepdim over D(1)", apply_var, S(2, 3, 4), .dims = D(1),
                  .keepdim = true),
    };
    RUN_CASES(cases);
}

TEST(gradcheck_matmul) {
    const gradcheck_case cases[] = {
        MATMUL(S(5), false, S(5), false),
        MATMUL(S(4), false, S(4, 3), false),
        MATMUL(S(3, 4), false, S(4), false),
        MATMUL(S(3, 4), false, S(4, 5), false),
        MATMUL(S(1, 1), false, S(1, 1), false),
        MATMUL(S(2, 3, 4), false, S(2, 4, 5), false),
        MATMUL(S(2, 1, 3, 4), false, S(3, 4, 2), false),
        MATMUL(S(2, 3, 4), false, S(4, 5), false),
        MATMUL(S(3, 4), false, S(2, 4, 5), false),
        MATMUL(S(4), false, S(2, 4, 3), false),
        MATMUL(S(2, 3, 4), false, S(4), false),
        MATMUL(S(4, 3), true, S(4, 5), false),
        MATMUL(S(3, 4), false, S(5, 4), true),
        MATMUL(S(4, 3), true, S(5, 4), true),
        MATMUL(S(2, 4, 3), true, S(2, 5, 4), true),
        MATMUL(S(2, 1, 4, 3), true, S(3, 4, 2), false),
    };
    RUN_CASES(cases);
}

TEST(gradcheck_views) {
    const gradcheck_case cases[] = {
        ONE_INPUT("reshape to [4x-1]", apply_reshape, S(2, 3, 4), .shape = S(4, -1)),
        ONE_INPUT("reshape to [24]", apply_reshape, S(2, 3, 4), .shape = S(24)),
        ONE_INPUT("reshape to [1x1]", apply_reshape, SCALAR, .shape = S(1, 1)),
        ONE_INPUT("reshape to [2x1x3]", apply_reshape, S(6), .shape = S(2, 1, 3)),
        ONE_INPUT("view as [6x4]", apply_view, S(2, 3, 4), .shape = S(6, 4)),
        ONE_INPUT("view as []", apply_view, S(1, 1), .shape = SCALAR),
        ONE_INPUT("flatten 0..-1", apply_flatten, S(2, 3, 4), .dim0 = 0, .dim1 = -1),
        ONE_INPUT("flatten 1..2", apply_flatten, S(2, 3, 4), .dim0 = 1, .dim1 = 2),
        ONE_INPUT("flatten -2..-1", apply_flatten, S(2, 3, 4, 1), .dim0 = -2, .dim1 = -1),
        ONE_INPUT("transpose 0,2", apply_transpose, S(2, 3, 4), .dim0 = 0, .dim1 = 2),
        ONE_INPUT("transpose -1,-2", apply_transpose, S(2, 3, 4), .dim0 = -1, .dim1 = -2),
        ONE_INPUT("permute 2,0,1", apply_permute, S(2, 3, 4), .dims = D(2, 0, 1)),
        ONE_INPUT("permute 1,-1,0", apply_permute, S(2, 3, 4), .dims = D(1, -1, 0)),
        ONE_INPUT("slice dim 1 [1:7:2]", apply_slice, S(3, 7), .dim0 = 1, .start = 1, .end = 7,
                  .step = 2),
        ONE_INPUT("slice dim -1 [-5:100:3]", apply_slice, S(3, 7), .dim0 = -1, .start = -5,
                  .end = 100, .step = 3),
        ONE_INPUT("slice dim 0 [0:2:1]", apply_slice, S(3, 7), .dim0 = 0, .start = 0, .end = 2,
                  .step = 1),
        ONE_INPUT("narrow dim 1 from 2 by 3", apply_narrow, S(3, 7), .dim0 = 1, .start = 2,
                  .end = 3),
        ONE_INPUT("narrow dim -1 from -3 by 2", apply_narrow, S(3, 7), .dim0 = -1, .start = -3,
                  .end = 2),
        ONE_INPUT("squeeze 1", apply_squeeze, S(3, 1, 4), .dim0 = 1),
        ONE_INPUT("squeeze -2", apply_squeeze, S(3, 1, 4), .dim0 = -2),
        ONE_INPUT("unsqueeze 0", apply_unsqueeze, S(3, 4), .dim0 = 0),
        ONE_INPUT("unsqueeze 2", apply_unsqueeze, S(3, 4), .dim0 = 2),
        ONE_INPUT("unsqueeze -1", apply_unsqueeze, S(3, 4), .dim0 = -1),
        ONE_INPUT("unsqueeze 0", apply_unsqueeze, SCALAR, .dim0 = 0),
        ONE_INPUT("expand to [2x3x5]", apply_expand, S(3, 1), .shape = S(2, 3, 5)),
        ONE_INPUT("expand to [2x3]", apply_expand, SCALAR, .shape = S(2, 3)),
        ONE_INPUT("expand to [3x4]", apply_expand, S(4), .shape = S(3, 4)),
        ONE_INPUT("expand to [-1x4]", apply_expand, S(3, 1), .shape = S(-1, 4)),
        ONE_INPUT("contiguous of a transposed view", apply_contiguous, S(3, 4), .dim0 = 0,
                  .dim1 = 1),
        ONE_INPUT("contiguous of a contiguous tensor", apply_contiguous, S(3, 4), .dim0 = 0,
                  .dim1 = 0),
        UNARY(cg_clone, S(3, 4), N),
        UNARY(cg_clone, SCALAR, N),
        UNARY(to_float64, S(3, 4), N),
    };
    RUN_CASES(cases);
}

TEST(gradcheck_chained_expressions) {
    const gradcheck_case cases[] = {
        EXPRESSION(mlp_output, S(4, 3), S(3, 5), S(5), S(5, 2)),
        EXPRESSION(logsumexp_of_matmul, S(3, 4), S(4, 5)),
        EXPRESSION(gram_matrix, S(3, 4)),
        EXPRESSION(input_used_four_times, S(5)),
        EXPRESSION(broadcast_operands_used_twice, S(3, 4), S(4)),
        EXPRESSION(reshape_of_transposed_view, S(3, 4), S(12)),
        EXPRESSION(stepped_slice_of_transposed_view, S(3, 6)),
        EXPRESSION(matmul_of_stepped_slice, S(3, 8), S(4, 5)),
        EXPRESSION(matmul_of_expanded_rows, S(1, 4), S(4, 5)),
        EXPRESSION(squeeze_all_then_sum, S(1, 3, 1, 4), S(3, 4)),
        EXPRESSION(reductions_of_expanded_view, S(3, 1)),
    };
    RUN_CASES(cases);
}
