/* Bad input gives a clear error, never a crash: wrong shapes and dtypes, NULL handles, dims out
 * of range, invalid shapes. Each message must name the op and what was wrong with the input. */
#include <string.h>

#include "test.h"

/* The last error contains every text in the NULL-terminated list; reports the first missing. */
static bool error_names(const char *const *texts, const char *expr, const char *file, int line) {
    for (int i = 0; texts[i]; i++) {
        if (!strstr(cg_last_error(), texts[i])) {
            test_fail(file, line, "%s: error \"%s\" does not name \"%s\"", expr, cg_last_error(),
                      texts[i]);
            return false;
        }
    }
    return true;
}

/* expr must fail with an error naming every listed text. */
#define CHECK_ERROR_NAMES(expr, ...)                                                               \
    do {                                                                                           \
        CHECK_ERROR(expr, "");                                                                     \
        if (!error_names((const char *const[]){__VA_ARGS__, NULL}, #expr, __FILE__, __LINE__))     \
            return;                                                                                \
    } while (0)

TEST(wrong_shapes_are_named) {
    cg_scope_begin();
    cg_tensor *a23 = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *a4 = cg_zeros(CG_SHAPE(4), CG_FLOAT32);
    cg_tensor *a45 = cg_zeros(CG_SHAPE(4, 5), CG_FLOAT32);
    CHECK_ERROR_NAMES(cg_add(a23, a4), "add", "[2x3]", "[4]", "broadcast");
    CHECK_ERROR_NAMES(cg_mul(a4, a23), "mul", "[4]", "[2x3]");
    CHECK_ERROR_NAMES(cg_where(a4, a23, a23), "where", "[4]", "[2x3]");
    CHECK_ERROR_NAMES(cg_matmul(a23, a45), "matmul", "[2x3]", "[4x5]");
    CHECK_ERROR_NAMES(cg_matmul(a4, a23), "matmul", "[4]", "[2x3]");
    CHECK_ERROR_NAMES(
        cg_matmul(cg_zeros(CG_SHAPE(2, 2, 3), CG_FLOAT32), cg_zeros(CG_SHAPE(3, 3, 1), CG_FLOAT32)),
        "matmul", "[2x2x3]", "[3x3x1]");
    CHECK_ERROR_NAMES(cg_matmul(cg_scalar(1, CG_FLOAT32), a4), "matmul", "[scalar]");
    CHECK_ERROR_NAMES(cg_reshape(a23, CG_SHAPE(4)), "reshape", "[2x3]", "[4]", "6 elements");
    CHECK_ERROR_NAMES(cg_reshape(a23, CG_SHAPE(4, -1)), "reshape", "[2x3]", "-1");
    CHECK_ERROR_NAMES(cg_reshape(a23, CG_SHAPE(-1, -1)), "reshape", "-1");
    CHECK_ERROR_NAMES(cg_view(cg_transpose(a23, 0, 1), CG_SHAPE(6)), "view", "[3x2]",
                      "not contiguous");
    CHECK_ERROR_NAMES(cg_expand(a23, CG_SHAPE(4, 3)), "expand", "[2x3]", "[4x3]");
    CHECK_ERROR_NAMES(cg_expand(a23, CG_SHAPE(3)), "expand", "[2x3]", "[3]");
    CHECK_ERROR_NAMES(cg_add_scaled_(a4, a23, 1.0), "add_scaled_", "[4]", "[2x3]");
    CHECK_ERROR_NAMES(cg_copy_(a4, a23), "copy_", "[4]", "[2x3]");
    CHECK_ERROR_NAMES(cg_item(a4), "item", "[4]");
    CHECK_ERROR_NAMES(cg_get(a23, (const int64_t[]){1, 3}), "get", "index 3", "[2x3]");
    CHECK_ERROR_NAMES(cg_set(a23, (const int64_t[]){2, 0}, 1), "set", "index 2", "[2x3]");
    CHECK_ERROR_NAMES(cg_get(a23, NULL), "get", "NULL", "[2x3]");
    float small[5];
    CHECK_ERROR_NAMES(cg_copy_to_array(a23, small, sizeof small), "copy_to_array", "[2x3]",
                      "24 bytes", "20");
    cg_scope_end();
}

TEST(wrong_dtypes_are_named) {
    cg_scope_begin();
    cg_tensor *ints = cg_zeros(CG_SHAPE(2), CG_INT32);
    cg_tensor *f32 = cg_zeros(CG_SHAPE(2), CG_FLOAT32);
    cg_tensor *f64 = cg_zeros(CG_SHAPE(2), CG_FLOAT64);
    CHECK_ERROR_NAMES(cg_exp(ints), "exp", "int32");
    CHECK_ERROR_NAMES(cg_sigmoid(cg_zeros(CG_SHAPE(2), CG_INT64)), "sigmoid", "int64");
    CHECK_ERROR_NAMES(cg_add(f32, f64), "add", "float32", "float64");
    CHECK_ERROR_NAMES(cg_lt(ints, f32), "lt", "int32", "float32");
    CHECK_ERROR_NAMES(cg_where(f32, f32, f64), "where", "float32", "float64");
    CHECK_ERROR_NAMES(cg_div(ints, ints), "div", "int32");
    CHECK_ERROR_NAMES(cg_pow(ints, ints), "pow", "int32");
    CHECK_ERROR_NAMES(cg_matmul(ints, ints), "matmul", "int32");
    CHECK_ERROR_NAMES(cg_mean(ints, CG_ALL_DIMS, false), "mean", "int32");
    CHECK_ERROR_NAMES(cg_var(ints, CG_ALL_DIMS, true, false), "var", "int32");
    CHECK_ERROR_NAMES(cg_logsumexp(ints, CG_ALL_DIMS, false), "logsumexp", "int32");
    CHECK_ERROR_NAMES(cg_set_requires_grad(cg_zeros(CG_SHAPE(2), CG_INT64), true),
                      "set_requires_grad", "int64");
    CHECK_ERROR_NAMES(cg_add_scaled_(ints, ints, 1.0), "add_scaled_", "int32");
    CHECK_ERROR_NAMES(cg_add_scaled_(f32, f64, 1.0), "add_scaled_", "float32", "float64");
    CHECK_ERROR_NAMES(cg_rand(CG_SHAPE(2), CG_INT32), "rand", "int32");
    CHECK_ERROR_NAMES(cg_randn(CG_SHAPE(2), CG_INT64), "randn", "int64");
    CHECK_ERROR_NAMES(cg_zeros(CG_SHAPE(2), (cg_dtype)17), "dtype", "17");
    CHECK_ERROR_NAMES(cg_to_dtype(f32, (cg_dtype)-1), "to_dtype", "-1");
    cg_tensor *x = cg_set_requires_grad(cg_zeros(CG_SHAPE(2), CG_FLOAT32), true);
    CHECK_ERROR_NAMES(cg_backward_with(cg_sum(x, CG_ALL_DIMS, false), f64), "backward", "float64",
                      "float32");
    cg_scope_end();
}

/* ----- NULL handles ----- */

typedef cg_tensor *(*unary_op)(const cg_tensor *);
typedef cg_tensor *(*binary_op)(const cg_tensor *, const cg_tensor *);
typedef cg_tensor *(*reduce_op)(const cg_tensor *, cg_dims, bool);

static cg_tensor *var_of(const cg_tensor *x, cg_dims dims, bool keepdim) {
    return cg_var(x, dims, true, keepdim);
}
static cg_tensor *clamp_of(const cg_tensor *x) { return cg_clamp(x, -1, 1); }
static cg_tensor *leaky_relu_of(const cg_tensor *x) { return cg_leaky_relu(x, 0.1); }
static cg_tensor *elu_of(const cg_tensor *x) { return cg_elu(x, 1.0); }
static cg_tensor *add_scalar_of(const cg_tensor *x) { return cg_add_scalar(x, 1); }
static cg_tensor *mul_scalar_of(const cg_tensor *x) { return cg_mul_scalar(x, 2); }
static cg_tensor *pow_scalar_of(const cg_tensor *x) { return cg_pow_scalar(x, 2); }
static cg_tensor *argmax_of(const cg_tensor *x) { return cg_argmax(x, 0, false); }
static cg_tensor *reshape_of(const cg_tensor *x) { return cg_reshape(x, CG_SHAPE(-1)); }
static cg_tensor *view_of(const cg_tensor *x) { return cg_view(x, CG_SHAPE(-1)); }
static cg_tensor *flatten_of(const cg_tensor *x) { return cg_flatten(x, 0, -1); }
static cg_tensor *transpose_of(const cg_tensor *x) { return cg_transpose(x, 0, 1); }
static cg_tensor *permute_of(const cg_tensor *x) { return cg_permute(x, CG_DIMS(1, 0)); }
static cg_tensor *slice_of(const cg_tensor *x) { return cg_slice(x, 0, 0, 1, 1); }
static cg_tensor *narrow_of(const cg_tensor *x) { return cg_narrow(x, 0, 0, 1); }
static cg_tensor *squeeze_of(const cg_tensor *x) { return cg_squeeze(x, 0); }
static cg_tensor *unsqueeze_of(const cg_tensor *x) { return cg_unsqueeze(x, 0); }
static cg_tensor *expand_of(const cg_tensor *x) { return cg_expand(x, CG_SHAPE(2, 2)); }
static cg_tensor *to_float64_of(const cg_tensor *x) { return cg_to_dtype(x, CG_FLOAT64); }
static cg_tensor *where_first_null(const cg_tensor *x, const cg_tensor *y) {
    return cg_where(x, y, y);
}
static cg_tensor *where_last_null(const cg_tensor *x, const cg_tensor *y) {
    return cg_where(x, x, y);
}

TEST(null_handles_give_null_and_keep_the_last_error) {
    const unary_op unary_ops[] = {
        cg_neg,        cg_exp,         cg_log,        cg_sqrt,       cg_abs,        clamp_of,
        cg_sigmoid,    cg_tanh,        cg_relu,       leaky_relu_of, elu_of,        cg_gelu,
        cg_softplus,   add_scalar_of,  mul_scalar_of, pow_scalar_of, argmax_of,     reshape_of,
        view_of,       flatten_of,     transpose_of,  permute_of,    slice_of,      narrow_of,
        squeeze_of,    cg_squeeze_all, unsqueeze_of,  expand_of,     cg_contiguous, cg_clone,
        to_float64_of, cg_zeros_like,  cg_ones_like,  cg_detach,
    };
    const binary_op binary_ops[] = {
        cg_add, cg_sub, cg_mul, cg_div, cg_pow, cg_maximum, cg_minimum,       cg_eq,
        cg_ne,  cg_lt,  cg_le,  cg_gt,  cg_ge,  cg_matmul,  where_first_null, where_last_null};
    const reduce_op reduce_ops[] = {cg_sum, cg_mean, cg_max, cg_min, var_of, cg_logsumexp};
    cg_tensor *x = cg_ones(CG_SHAPE(2, 2), CG_FLOAT32);
    /* A NULL operand means an earlier op failed: its message must survive the chain. */
    cg_tensor *ints = cg_zeros(CG_SHAPE(1), CG_INT32);
    CHECK(cg_exp(ints) == NULL);
    cg_release(ints);
    const char *earlier = "exp: expected a float32 or float64 tensor, got int32";
    CHECK(strcmp(cg_last_error(), earlier) == 0);
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (unary_ops[i](NULL) != NULL) test_fail(__FILE__, __LINE__, "unary op %zu", i);
    for (size_t i = 0; i < sizeof binary_ops / sizeof binary_ops[0]; i++)
        if (binary_ops[i](NULL, x) != NULL || binary_ops[i](x, NULL) != NULL)
            test_fail(__FILE__, __LINE__, "binary op %zu", i);
    for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++)
        if (reduce_ops[i](NULL, CG_ALL_DIMS, false) != NULL)
            test_fail(__FILE__, __LINE__, "reduction %zu", i);
    CHECK(cg_where(x, NULL, x) == NULL);
    CHECK(cg_set_requires_grad(NULL, true) == NULL);
    CHECK(cg_grad(NULL) == NULL);
    CHECK(cg_keep(NULL) == NULL && cg_retain(NULL) == NULL);
    CHECK(strcmp(cg_last_error(), earlier) == 0);

    /* Status-returning functions give -1 (or NaN, or an empty answer). */
    float buffer[4];
    CHECK(cg_backward(NULL) == -1);
    CHECK(cg_backward_with(NULL, x) == -1 && cg_backward_with(x, NULL) == -1);
    CHECK(cg_add_scaled_(NULL, x, 1) == -1 && cg_add_scaled_(x, NULL, 1) == -1);
    CHECK(cg_copy_(NULL, x) == -1 && cg_copy_(x, NULL) == -1);
    CHECK(cg_fill_(NULL, 1) == -1);
    CHECK(cg_set(NULL, (const int64_t[]){0, 0}, 1) == -1);
    CHECK(isnan(cg_get(NULL, (const int64_t[]){0, 0})) && isnan(cg_item(NULL)));
    CHECK(cg_copy_to_array(NULL, buffer, sizeof buffer) == -1);
    CHECK(cg_print(NULL, stdout) == -1);
    CHECK(cg_ndim(NULL) == -1 && cg_dim(NULL, 0) == -1 && cg_numel(NULL) == 0);
    CHECK(cg_tensor_shape(NULL).ndim == 0 && !cg_requires_grad(NULL) && !cg_is_contiguous(NULL));
    CHECK(cg_tensor_dtype(NULL) == CG_DTYPE_COUNT);
    cg_release(NULL);
    cg_zero_grad(NULL);
    CHECK(strcmp(cg_last_error(), earlier) == 0);

    /* Functions whose input is not a tensor say what is missing. */
    CHECK_ERROR_NAMES(cg_from_array(NULL, CG_SHAPE(2), CG_FLOAT32), "from_array", "NULL");
    CHECK_ERROR_NAMES(cg_copy_to_array(x, NULL, 16), "copy_to_array", "[2x2]");
    CHECK_ERROR_NAMES(cg_print(x, NULL), "print", "NULL");
    CHECK_ERROR_NAMES(cg_gradcheck(NULL, &x, 1, NULL, 1e-6, 1e-7, 1e-5), "gradcheck");
    cg_release(x);
}

/* ----- dims out of range ----- */

static cg_tensor *sum_at(const cg_tensor *x, int dim) { return cg_sum(x, CG_DIMS(dim), false); }
static cg_tensor *mean_at(const cg_tensor *x, int dim) { return cg_mean(x, CG_DIMS(dim), true); }
static cg_tensor *max_at(const cg_tensor *x, int dim) { return cg_max(x, CG_DIMS(0, dim), false); }
static cg_tensor *min_at(const cg_tensor *x, int dim) { return cg_min(x, CG_DIMS(dim), false); }
static cg_tensor *var_at(const cg_tensor *x, int dim) {
    return cg_var(x, CG_DIMS(dim), true, false);
}
static cg_tensor *logsumexp_at(const cg_tensor *x, int dim) {
    return cg_logsumexp(x, CG_DIMS(dim), false);
}
static cg_tensor *argmax_at(const cg_tensor *x, int dim) { return cg_argmax(x, dim, false); }
static cg_tensor *transpose_at(const cg_tensor *x, int dim) { return cg_transpose(x, 0, dim); }
static cg_tensor *permute_at(const cg_tensor *x, int dim) {
    return cg_permute(x, CG_DIMS(0, dim, 1));
}
static cg_tensor *slice_at(const cg_tensor *x, int dim) { return cg_slice(x, dim, 0, 1, 1); }
static cg_tensor *narrow_at(const cg_tensor *x, int dim) { return cg_narrow(x, dim, 0, 1); }
static cg_tensor *squeeze_at(const cg_tensor *x, int dim) { return cg_squeeze(x, dim); }
static cg_tensor *unsqueeze_at(const cg_tensor *x, int dim) { return cg_unsqueeze(x, dim); }
static cg_tensor *flatten_from(const cg_tensor *x, int dim) { return cg_flatten(x, dim, -1); }
static cg_tensor *flatten_to(const cg_tensor *x, int dim) { return cg_flatten(x, 0, dim); }

typedef struct {
    const char *op;
    cg_tensor *(*call)(const cg_tensor *x, int dim);
    int bad_dims[2]; /* for a tensor with 3 dims */
} dim_case;

TEST(dims_out_of_range_are_named) {
    const dim_case cases[] = {
        {"sum", sum_at, {3, -4}},
        {"mean", mean_at, {3, -4}},
        {"max", max_at, {3, -4}},
        {"min", min_at, {3, -4}},
        {"var", var_at, {3, -4}},
        {"logsumexp", logsumexp_at, {3, -4}},
        {"argmax", argmax_at, {3, -4}},
        {"transpose", transpose_at, {3, -4}},
        {"permute", permute_at, {3, -4}},
        {"slice", slice_at, {3, -4}},
        {"narrow", narrow_at, {3, -4}},
        {"squeeze", squeeze_at, {3, -4}},
        {"unsqueeze", unsqueeze_at, {4, -5}}, /* a new dim may go at 0..3 */
        {"flatten", flatten_from, {3, -4}},
        {"flatten", flatten_to, {3, -4}},
    };
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 3, 4), CG_FLOAT32);
    char dim_text[32];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 2; i++) {
            snprintf(dim_text, sizeof dim_text, "dim %d", cases[c].bad_dims[i]);
            cg_scope_begin();
            cg_clear_error();
            cg_tensor *result = cases[c].call(x, cases[c].bad_dims[i]);
            cg_scope_end();
            if (result || !strstr(cg_last_error(), cases[c].op) ||
                !strstr(cg_last_error(), dim_text) || !strstr(cg_last_error(), "out of range"))
                test_fail(__FILE__, __LINE__, "%s with %s: %s, error \"%s\"", cases[c].op, dim_text,
                          result ? "succeeded" : "failed", cg_last_error());
        }
    }
    CHECK_ERROR_NAMES((int)cg_dim(x, 3), "dim 3", "out of range", "3 dims");
    cg_release(x);
}

TEST(invalid_dim_lists_are_named) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 1, 4), CG_FLOAT32);
    CHECK_ERROR_NAMES(cg_squeeze(x, 0), "squeeze", "dim 0", "[2x1x4]", "size 2");
    CHECK_ERROR_NAMES(cg_squeeze(x, -1), "squeeze", "dim -1", "[2x1x4]", "size 4");
    CHECK_ERROR_NAMES(cg_permute(x, CG_DIMS(0, 0, 1)), "permute", "dim 0", "twice");
    CHECK_ERROR_NAMES(cg_permute(x, CG_DIMS(2, -1, 0)), "permute", "twice");
    CHECK_ERROR_NAMES(cg_permute(x, CG_DIMS(1, 0)), "permute", "2 dims", "3 dims");
    CHECK_ERROR_NAMES(cg_sum(x, CG_DIMS(1, -2), false), "sum", "twice");
    CHECK_ERROR_NAMES(cg_flatten(x, 2, 1), "flatten", "start_dim 2", "end_dim 1");
    CHECK_ERROR_NAMES(cg_slice(x, 0, 0, 2, 0), "slice", "step", "0");
    CHECK_ERROR_NAMES(cg_slice(x, 2, 5, 6, 1), "slice", "start 5", "size 4");
    CHECK_ERROR_NAMES(cg_narrow(x, 2, 2, 3), "narrow", "[2, 5)", "size 4");
    CHECK_ERROR_NAMES(cg_narrow(x, 0, 0, -1), "narrow", "size 2");
    CHECK_ERROR_NAMES(cg_clamp(x, 1, -1), "clamp", "min 1", "max -1");
    CHECK_ERROR_NAMES(cg_max(cg_zeros(CG_SHAPE(3, 0), CG_FLOAT32), CG_DIMS(1), false), "max",
                      "empty", "[3x0]");
    CHECK_ERROR_NAMES(cg_argmax(cg_zeros(CG_SHAPE(0), CG_FLOAT32), 0, false), "argmax", "empty");
    cg_scope_end();
}

/* ----- autograd misuse ----- */

static cg_tensor *exp_of_first(cg_tensor **inputs, void *userdata) {
    (void)userdata;
    return cg_exp(inputs[0]);
}

TEST(autograd_misuse_is_named) {
    cg_tensor *w = cg_set_requires_grad(cg_ones(CG_SHAPE(2, 3), CG_FLOAT32), true);
    cg_scope_begin();
    cg_tensor *y = cg_mul_scalar(w, 2);
    CHECK_ERROR_NAMES(cg_backward(y), "backward", "one-element", "[2x3]");
    CHECK_ERROR_NAMES(cg_backward_with(y, cg_ones(CG_SHAPE(3, 2), CG_FLOAT32)), "backward", "[3x2]",
                      "[2x3]");
    CHECK_ERROR_NAMES(cg_backward(cg_sum(cg_ones(CG_SHAPE(2), CG_FLOAT32), CG_ALL_DIMS, false)),
                      "backward", "does not require grad");
    CHECK_ERROR_NAMES(cg_set_requires_grad(y, false), "set_requires_grad", "leaf", "mul_scalar");
    cg_tensor *f32 = cg_set_requires_grad(cg_ones(CG_SHAPE(2), CG_FLOAT32), true);
    CHECK_ERROR_NAMES(cg_gradcheck(exp_of_first, &f32, 1, NULL, 1e-6, 1e-7, 1e-5), "gradcheck",
                      "float64");
    cg_scope_end();
    CHECK(cg_grad(w) == NULL); /* nothing half-done was accumulated */
    cg_release(w);
}

/* ----- invalid shapes and creation arguments ----- */

TEST(invalid_shapes_are_named) {
    cg_shape nine_dims = {.ndim = 9};
    for (int d = 0; d < 9; d++)
        nine_dims.dims[d % CG_MAX_DIMS] = 1;
    cg_shape negative_ndim = {.ndim = -1};
    cg_scope_begin();
    CHECK_ERROR_NAMES(cg_zeros(CG_SHAPE(2, -3), CG_FLOAT32), "negative size -3", "[2x-3]");
    CHECK_ERROR_NAMES(cg_empty(nine_dims, CG_FLOAT32), "8 dims", "not 9");
    CHECK_ERROR_NAMES(cg_empty(negative_ndim, CG_FLOAT32), "not -1");
    CHECK_ERROR_NAMES(cg_rand(CG_SHAPE(-1), CG_FLOAT32), "negative size -1");
    CHECK_ERROR_NAMES(cg_zeros(CG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40), CG_FLOAT32),
                      "too large");
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR_NAMES(cg_reshape(x, nine_dims), "reshape", "at most 8");
    CHECK_ERROR_NAMES(cg_reshape(x, CG_SHAPE(-2, 3)), "reshape", "-2");
    CHECK_ERROR_NAMES(cg_expand(x, CG_SHAPE(2, -5)), "expand", "[2x-5]");
    CHECK_ERROR_NAMES(cg_expand(x, nine_dims), "expand");
    cg_tensor *eight = cg_zeros(CG_SHAPE(1, 1, 1, 1, 1, 1, 1, 1), CG_FLOAT32);
    CHECK_ERROR_NAMES(cg_unsqueeze(eight, 0), "unsqueeze", "at most 8");
    CHECK_ERROR_NAMES(cg_arange(0, 1, 0, CG_FLOAT32), "arange", "step");
    CHECK_ERROR_NAMES(cg_arange(0, INFINITY, 1, CG_FLOAT32), "arange", "finite");
    CHECK_ERROR_NAMES(cg_linspace(0, 1, -2, CG_FLOAT32), "linspace", "-2");
    CHECK_ERROR_NAMES(cg_randint(3, 3, CG_SHAPE(2), CG_INT64), "randint", "[3, 3)");
    cg_scope_end();
}
