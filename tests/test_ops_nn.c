/* Softmax, joining, indexing, dropout and losses: float64 gradient checks, shape rules, errors,
 * dropout statistics and the stability of the losses on extreme logits. Forward values against
 * PyTorch live in the fixture tests. */
#include <stdint.h>
#include <string.h>

#include "test.h"

#define GRADCHECK(fn, inputs, count, userdata)                                                     \
    cg_gradcheck((fn), (inputs), (count), (userdata), 1e-6, 1e-7, 1e-5)

static cg_tensor *variable(cg_shape shape) {
    return cg_set_requires_grad(cg_randn(shape, CG_FLOAT64), true);
}

static cg_tensor *int64_tensor(const int64_t *values, cg_shape shape) {
    return cg_from_array(values, shape, CG_INT64);
}

static bool same_shape(const cg_tensor *t, cg_shape shape) {
    cg_shape actual = cg_tensor_shape(t);
    return actual.ndim == shape.ndim &&
           memcmp(actual.dims, shape.dims, sizeof(int64_t) * (size_t)shape.ndim) == 0;
}

/* ----- softmax and log-softmax ----- */

static cg_tensor *softmax_fn(cg_tensor **inputs, void *userdata) {
    return cg_softmax(inputs[0], *(const int *)userdata);
}

static cg_tensor *log_softmax_fn(cg_tensor **inputs, void *userdata) {
    return cg_log_softmax(inputs[0], *(const int *)userdata);
}

/* Softmax of a transposed (strided) view, so the kernels see non-unit strides along dim. */
static cg_tensor *strided_softmax_fn(cg_tensor **inputs, void *userdata) {
    return cg_softmax(cg_transpose(inputs[0], 0, 1), *(const int *)userdata);
}

TEST(softmax_gradients_along_every_dim) {
    const cg_shape shapes[] = {CG_SHAPE(3, 4), CG_SHAPE(2, 3, 4)};
    const int dims[][4] = {{0, 1, -1}, {0, 1, 2, -2}};
    const int dim_counts[] = {3, 4};
    cg_scope_begin();
    for (int s = 0; s < 2; s++) {
        cg_tensor *x = variable(shapes[s]);
        for (int k = 0; k < dim_counts[s]; k++) {
            int dim = dims[s][k];
            CHECK(GRADCHECK(softmax_fn, &x, 1, &dim) == 0);
            CHECK(GRADCHECK(log_softmax_fn, &x, 1, &dim) == 0);
        }
    }
    cg_tensor *x = variable(CG_SHAPE(3, 5));
    for (int dim = 0; dim < 2; dim++)
        CHECK(GRADCHECK(strided_softmax_fn, &x, 1, &dim) == 0);
    cg_scope_end();
}

TEST(softmax_rows_sum_to_one_and_log_softmax_is_its_log) {
    cg_scope_begin();
    cg_tensor *x = cg_mul_scalar(cg_randn(CG_SHAPE(4, 6), CG_FLOAT64), 5.0);
    cg_tensor *probs = cg_softmax(x, 1);
    CHECK(same_shape(probs, CG_SHAPE(4, 6)));
    CHECK_TENSOR_CLOSE(cg_sum(probs, CG_DIMS(1), false), cg_ones(CG_SHAPE(4), CG_FLOAT64), 1e-12,
                       0);
    CHECK_TENSOR_CLOSE(cg_log_softmax(x, 1), cg_log(probs), 1e-12, 1e-12);
    /* Shifting every logit of a row leaves the softmax unchanged, even by a huge amount. */
    CHECK_TENSOR_CLOSE(cg_softmax(cg_add_scalar(x, 1e4), 1), probs, 1e-9, 0);
    cg_scope_end();
}

TEST(softmax_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR(cg_softmax(x, 2), "softmax: dim 2 is out of range");
    CHECK_ERROR(cg_log_softmax(x, -3), "log_softmax: dim -3 is out of range");
    CHECK_ERROR(cg_softmax(cg_zeros(CG_SHAPE(3), CG_INT64), 0), "expected a float32 or float64");
    cg_clear_error();
    CHECK(cg_softmax(NULL, 0) == NULL && cg_log_softmax(NULL, 0) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

/* ----- concat and stack ----- */

typedef struct {
    int count, dim;
} join_case;

static cg_tensor *concat_fn(cg_tensor **inputs, void *userdata) {
    const join_case *c = userdata;
    return cg_concat(inputs, c->count, c->dim);
}

static cg_tensor *stack_fn(cg_tensor **inputs, void *userdata) {
    const join_case *c = userdata;
    return cg_stack(inputs, c->count, c->dim);
}

TEST(concat_gradients_for_two_three_and_six_inputs) {
    cg_scope_begin();
    cg_tensor *inputs[6];
    for (int i = 0; i < 6; i++)
        inputs[i] = variable(CG_SHAPE(2, i + 1, 3));
    for (int count = 2; count <= 6; count += count == 3 ? 3 : 1) {
        join_case c = {count, 1};
        CHECK(GRADCHECK(concat_fn, inputs, count, &c) == 0);
    }
    cg_tensor *rows[3] = {variable(CG_SHAPE(1, 4)), variable(CG_SHAPE(3, 4)),
                          variable(CG_SHAPE(2, 4))};
    join_case first_dim = {3, -2};
    CHECK(GRADCHECK(concat_fn, rows, 3, &first_dim) == 0);
    cg_scope_end();
}

TEST(concat_places_each_input_in_its_window) {
    cg_scope_begin();
    cg_tensor *parts[3] = {cg_randn(CG_SHAPE(2, 1), CG_FLOAT32),
                           cg_randn(CG_SHAPE(2, 0), CG_FLOAT32),
                           cg_randn(CG_SHAPE(2, 3), CG_FLOAT32)};
    cg_tensor *joined = cg_concat(parts, 3, -1);
    CHECK(same_shape(joined, CG_SHAPE(2, 4)));
    CHECK_TENSOR_CLOSE(cg_narrow(joined, 1, 0, 1), parts[0], 0, 0);
    CHECK_TENSOR_CLOSE(cg_narrow(joined, 1, 1, 3), parts[2], 0, 0);
    cg_tensor *labels[2] = {cg_arange(0, 3, 1, CG_INT64), cg_arange(3, 5, 1, CG_INT64)};
    CHECK_TENSOR_CLOSE(cg_concat(labels, 2, 0), cg_arange(0, 5, 1, CG_INT64), 0, 0);
    cg_scope_end();
}

/* More inputs than a graph node holds: every input still gets its slice of the gradient. */
TEST(concat_of_many_inputs_sends_each_its_gradient) {
    enum { COUNT = 17 };
    cg_scope_begin();
    cg_tensor *inputs[COUNT];
    for (int i = 0; i < COUNT; i++)
        inputs[i] = cg_zeros(CG_SHAPE(1, 2), CG_FLOAT64);
    for (int i = 0; i < COUNT; i += 2)
        cg_set_requires_grad(inputs[i], true);
    cg_tensor *weights = cg_reshape(cg_arange(0, 2 * COUNT, 1, CG_FLOAT64), CG_SHAPE(COUNT, 2));
    cg_tensor *joined = cg_concat(inputs, COUNT, 0);
    CHECK(same_shape(joined, CG_SHAPE(COUNT, 2)));
    CHECK(cg_backward(cg_sum(cg_mul(joined, weights), CG_ALL_DIMS, false)) == 0);
    for (int i = 0; i < COUNT; i++) {
        if (i % 2) {
            CHECK(cg_grad(inputs[i]) == NULL);
        } else {
            CHECK_TENSOR_CLOSE(cg_grad(inputs[i]), cg_narrow(weights, 0, i, 1), 0, 0);
        }
    }
    cg_scope_end();
}

TEST(concat_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *a = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *wider = cg_zeros(CG_SHAPE(2, 4), CG_FLOAT32);
    cg_tensor *flat = cg_zeros(CG_SHAPE(6), CG_FLOAT32);
    cg_tensor *doubles = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT64);
    CHECK_ERROR(cg_concat((cg_tensor *[]){a, wider}, 2, 0), "concat: tensor 1 has shape [2x4]");
    CHECK_ERROR(cg_concat((cg_tensor *[]){a, flat}, 2, 0), "does not match tensor 0's [2x3]");
    CHECK_ERROR(cg_concat((cg_tensor *[]){a, doubles}, 2, 0), "concat: dtype mismatch");
    CHECK_ERROR(cg_concat((cg_tensor *[]){a, a}, 2, 2), "concat: dim 2 is out of range");
    CHECK_ERROR(cg_concat((cg_tensor *[]){a}, 0, 0), "concat: need at least one tensor");
    CHECK(cg_concat(&wider, 1, 1) != NULL); /* a single tensor is a copy */
    cg_clear_error();
    CHECK(cg_concat((cg_tensor *[]){a, NULL}, 2, 0) == NULL);
    CHECK(cg_concat(NULL, 2, 0) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

TEST(stack_gradients_and_shapes) {
    cg_scope_begin();
    cg_tensor *inputs[3] = {variable(CG_SHAPE(2, 3)), variable(CG_SHAPE(2, 3)),
                            variable(CG_SHAPE(2, 3))};
    const int dims[] = {0, 1, 2, -1};
    const cg_shape shapes[] = {CG_SHAPE(3, 2, 3), CG_SHAPE(2, 3, 3), CG_SHAPE(2, 3, 3),
                               CG_SHAPE(2, 3, 3)};
    for (int k = 0; k < 4; k++) {
        join_case c = {3, dims[k]};
        CHECK(same_shape(cg_stack(inputs, 3, dims[k]), shapes[k]));
        CHECK(GRADCHECK(stack_fn, inputs, 3, &c) == 0);
    }
    /* Element [i][j] of input k sits at [i][j][k] when stacking along the last dim. */
    cg_tensor *stacked = cg_stack(inputs, 3, -1);
    CHECK_TENSOR_CLOSE(cg_squeeze(cg_narrow(stacked, 2, 1, 1), 2), inputs[1], 0, 0);
    cg_scope_end();
}

TEST(stack_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *a = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *b = cg_zeros(CG_SHAPE(3, 3), CG_FLOAT32);
    CHECK_ERROR(cg_stack((cg_tensor *[]){a, b}, 2, 0), "stack: tensor 1 has shape [3x3]");
    CHECK_ERROR(cg_stack((cg_tensor *[]){a, a}, 2, 3), "stack: dim 3 is out of range");
    CHECK_ERROR(cg_stack((cg_tensor *[]){a, cg_zeros(CG_SHAPE(2, 3), CG_INT32)}, 2, 0),
                "stack: dtype mismatch");
    CHECK_ERROR(cg_stack(NULL, 0, 0), "stack: need at least one tensor");
    cg_scope_end();
}

/* ----- gather, index_select, one_hot ----- */

typedef struct {
    int dim;
    const cg_tensor *index;
} index_case;

static cg_tensor *gather_fn(cg_tensor **inputs, void *userdata) {
    const index_case *c = userdata;
    return cg_gather(inputs[0], c->dim, c->index);
}

static cg_tensor *index_select_fn(cg_tensor **inputs, void *userdata) {
    const index_case *c = userdata;
    return cg_index_select(inputs[0], c->dim, c->index);
}

TEST(gather_gradients_accumulate_repeated_indices) {
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(3, 4));
    index_case rows = {0, int64_tensor((int64_t[]){0, 2, 2, 1, 1, 1, 0, 2}, CG_SHAPE(2, 4))};
    index_case cols = {-1, int64_tensor((int64_t[]){3, 0, 1, 1, 2, 3}, CG_SHAPE(3, 2))};
    CHECK(GRADCHECK(gather_fn, &x, 1, &rows) == 0);
    CHECK(GRADCHECK(gather_fn, &x, 1, &cols) == 0);
    cg_tensor *cube = variable(CG_SHAPE(2, 3, 4));
    for (int dim = 0; dim < 3; dim++) {
        cg_shape index_shape = CG_SHAPE(2, 2, 3);
        index_case c = {dim, cg_randint(0, cg_dim(cube, dim), index_shape, CG_INT32)};
        CHECK(GRADCHECK(gather_fn, &cube, 1, &c) == 0);
    }
    cg_scope_end();
}

TEST(gather_picks_the_indexed_elements) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(3, 4), CG_FLOAT32);
    /* The index may be longer than x along dim, but not along the others. */
    cg_tensor *index = cg_randint(0, 4, CG_SHAPE(4, 6), CG_INT64);
    CHECK_ERROR(cg_gather(x, 1, index), "larger than the input [3x4] in dim 0");
    index = cg_randint(0, 4, CG_SHAPE(2, 6), CG_INT64);
    cg_tensor *out = cg_gather(x, 1, index);
    CHECK(same_shape(out, CG_SHAPE(2, 6)));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 6; j++) {
            const int64_t at[2] = {i, j};
            const int64_t from[2] = {i, (int64_t)cg_get(index, at)};
            CHECK_NEAR(cg_get(out, at), cg_get(x, from), 0);
        }
    cg_scope_end();
}

TEST(gather_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *index = int64_tensor((int64_t[]){0, 1, 2, 3}, CG_SHAPE(2, 2));
    CHECK_ERROR(cg_gather(x, 1, index), "index 3 is out of range for a dimension of size 3");
    CHECK_ERROR(cg_gather(x, 1, cg_zeros(CG_SHAPE(2, 2), CG_FLOAT32)),
                "gather: index must be int32 or int64, got float32");
    CHECK_ERROR(cg_gather(x, 0, cg_zeros(CG_SHAPE(2), CG_INT64)),
                "gather: index of shape [2] must have as many dims as the input [2x3]");
    CHECK_ERROR(cg_gather(x, 2, index), "gather: dim 2 is out of range");
    cg_clear_error();
    CHECK(cg_gather(NULL, 0, index) == NULL && cg_gather(x, 0, NULL) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

TEST(index_select_gradients_and_values) {
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(3, 4, 2));
    index_case c = {1, int64_tensor((int64_t[]){3, 0, 3, 1, 3}, CG_SHAPE(5))};
    CHECK(GRADCHECK(index_select_fn, &x, 1, &c) == 0);
    index_case rows = {0, cg_from_array((int32_t[]){2, 2}, CG_SHAPE(2), CG_INT32)};
    CHECK(GRADCHECK(index_select_fn, &x, 1, &rows) == 0);
    cg_tensor *picked = cg_index_select(x, 1, c.index);
    CHECK(same_shape(picked, CG_SHAPE(3, 5, 2)));
    for (int64_t k = 0; k < 5; k++) {
        const int64_t at[1] = {k};
        const int64_t source = (int64_t)cg_get(c.index, at);
        CHECK_TENSOR_CLOSE(cg_narrow(picked, 1, k, 1), cg_narrow(x, 1, source, 1), 0, 0);
    }
    cg_scope_end();
}

TEST(index_select_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR(
        cg_index_select(x, 0, cg_zeros(CG_SHAPE(2, 1), CG_INT64)),
        "index_select: index must be a 1-D int32 or int64 tensor, got int64 of shape [2x1]");
    CHECK_ERROR(cg_index_select(x, 0, cg_zeros(CG_SHAPE(2), CG_FLOAT64)),
                "got float64 of shape [2]");
    CHECK_ERROR(cg_index_select(x, 0, int64_tensor((int64_t[]){0, 2}, CG_SHAPE(2))),
                "index 2 is out of range");
    CHECK_ERROR(cg_index_select(x, -3, cg_zeros(CG_SHAPE(1), CG_INT64)),
                "index_select: dim -3 is out of range");
    cg_scope_end();
}

TEST(one_hot_marks_each_label) {
    cg_scope_begin();
    cg_tensor *labels = cg_from_array((int32_t[]){2, 0, 1, 2, 2, 0}, CG_SHAPE(2, 3), CG_INT32);
    cg_tensor *encoded = cg_one_hot(labels, 4, CG_FLOAT32);
    CHECK(same_shape(encoded, CG_SHAPE(2, 3, 4)));
    CHECK(cg_tensor_dtype(encoded) == CG_FLOAT32 && !cg_requires_grad(encoded));
    CHECK_TENSOR_CLOSE(cg_sum(encoded, CG_DIMS(-1), false), cg_ones(CG_SHAPE(2, 3), CG_FLOAT32), 0,
                       0);
    CHECK_TENSOR_CLOSE(cg_argmax(encoded, -1, false), labels, 0, 0);
    cg_tensor *scalar = cg_one_hot(cg_scalar(1, CG_INT64), 3, CG_INT64);
    CHECK(same_shape(scalar, CG_SHAPE(3)));
    CHECK_TENSOR_CLOSE(scalar, int64_tensor((int64_t[]){0, 1, 0}, CG_SHAPE(3)), 0, 0);
    cg_scope_end();
}

TEST(one_hot_reports_bad_labels) {
    cg_scope_begin();
    CHECK_ERROR(cg_one_hot(int64_tensor((int64_t[]){0, 5, 1}, CG_SHAPE(3)), 3, CG_FLOAT32),
                "one_hot: label 5 is out of range for 3 classes");
    CHECK_ERROR(cg_one_hot(int64_tensor((int64_t[]){0, -1}, CG_SHAPE(2)), 3, CG_FLOAT32),
                "one_hot: label -1 is out of range");
    CHECK_ERROR(cg_one_hot(cg_zeros(CG_SHAPE(2), CG_FLOAT32), 3, CG_FLOAT32),
                "one_hot: labels must be int32 or int64, got float32");
    CHECK_ERROR(cg_one_hot(cg_zeros(CG_SHAPE(2), CG_INT64), 0, CG_FLOAT32),
                "one_hot: num_classes must be positive");
    cg_clear_error();
    CHECK(cg_one_hot(NULL, 3, CG_FLOAT32) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

/* ----- dropout ----- */

enum { DROPOUT_SEED = 1234 };

/* Reseeds first so every evaluation inside the gradient check draws the same mask. */
static cg_tensor *dropout_fn(cg_tensor **inputs, void *userdata) {
    cg_manual_seed(DROPOUT_SEED);
    return cg_dropout(inputs[0], *(const double *)userdata, true);
}

TEST(dropout_gradient_with_a_fixed_mask) {
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(4, 5));
    double p = 0.4;
    CHECK(GRADCHECK(dropout_fn, &x, 1, &p) == 0);
    /* The gradient is the scaled mask itself: 0 where dropped, 1/(1-p) where kept. */
    cg_zero_grad(x);
    cg_tensor *out = dropout_fn(&x, &p);
    CHECK(cg_backward(cg_sum(out, CG_ALL_DIMS, false)) == 0);
    cg_tensor *kept = cg_ne(out, cg_zeros_like(out));
    CHECK_TENSOR_CLOSE(cg_grad(x), cg_mul_scalar(kept, 1.0 / (1.0 - p)), 1e-15, 0);
    cg_scope_end();
}

TEST(dropout_zeroes_a_fraction_p_and_keeps_the_mean) {
    const double p = 0.3;
    cg_scope_begin();
    cg_tensor *x = cg_ones(CG_SHAPE(100000), CG_FLOAT32);
    cg_tensor *out = cg_dropout(x, p, true);
    CHECK(same_shape(out, CG_SHAPE(100000)));
    cg_tensor *zeroed = cg_eq(out, cg_zeros_like(out));
    cg_tensor *scaled = cg_eq(out, cg_full(CG_SHAPE(1), 1.0 / (1.0 - p), CG_FLOAT32));
    const double zeroed_fraction = cg_item(cg_mean(zeroed, CG_ALL_DIMS, false));
    /* Five standard deviations of a binomial fraction over 100k draws is 0.0072. */
    CHECK_NEAR(zeroed_fraction, p, 0.0075);
    CHECK_NEAR(cg_item(cg_sum(cg_add(zeroed, scaled), CG_ALL_DIMS, false)), 100000, 0);
    CHECK_NEAR(cg_item(cg_mean(out, CG_ALL_DIMS, false)), 1.0, 0.011);
    cg_scope_end();
}

TEST(dropout_is_reproducible_for_a_seed) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(1000), CG_FLOAT64);
    cg_manual_seed(7);
    cg_tensor *first = cg_dropout(x, 0.5, true);
    cg_tensor *next = cg_dropout(x, 0.5, true);
    cg_manual_seed(7);
    cg_tensor *again = cg_dropout(x, 0.5, true);
    CHECK_TENSOR_CLOSE(again, first, 0, 0);
    /* The stream moves on: the next call draws a different mask. */
    cg_tensor *differs = cg_ne(cg_eq(first, cg_zeros_like(x)), cg_eq(next, cg_zeros_like(x)));
    CHECK(cg_item(cg_sum(differs, CG_ALL_DIMS, false)) > 100);
    cg_scope_end();
}

TEST(dropout_is_the_identity_when_not_training) {
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(3, 4));
    const cg_rng_state before = cg_rng_get_state();
    cg_tensor *eval = cg_dropout(x, 0.5, false);
    cg_tensor *no_drop = cg_dropout(x, 0.0, true);
    CHECK(cg_rng_get_state().offset == before.offset);
    CHECK_TENSOR_CLOSE(eval, x, 0, 0);
    CHECK_TENSOR_CLOSE(no_drop, x, 0, 0);
    CHECK(cg_backward(cg_sum(eval, CG_ALL_DIMS, false)) == 0);
    CHECK_TENSOR_CLOSE(cg_grad(x), cg_ones_like(x), 0, 0);
    cg_scope_end();
}

TEST(dropout_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *x = cg_ones(CG_SHAPE(4), CG_FLOAT32);
    CHECK_ERROR(cg_dropout(x, 1.0, true), "dropout: p must be in [0, 1), got 1");
    CHECK_ERROR(cg_dropout(x, -0.1, false), "dropout: p must be in [0, 1), got -0.1");
    CHECK_ERROR(cg_dropout(x, NAN, true), "dropout: p must be in [0, 1)");
    CHECK_ERROR(cg_dropout(cg_ones(CG_SHAPE(4), CG_INT32), 0.5, true),
                "dropout: expected a float32 or float64");
    cg_clear_error();
    CHECK(cg_dropout(NULL, 0.5, true) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

/* ----- losses ----- */

typedef cg_tensor *(*pairwise_loss_fn)(const cg_tensor *, const cg_tensor *, cg_reduction);

typedef struct {
    pairwise_loss_fn loss;
    cg_reduction reduction;
} loss_case;

static cg_tensor *pairwise_fn(cg_tensor **inputs, void *userdata) {
    const loss_case *c = userdata;
    return c->loss(inputs[0], inputs[1], c->reduction);
}

static const cg_reduction reductions[] = {CG_REDUCTION_MEAN, CG_REDUCTION_SUM, CG_REDUCTION_NONE};

TEST(pairwise_loss_gradients_for_every_reduction) {
    const pairwise_loss_fn losses[] = {cg_mse_loss, cg_l1_loss, cg_bce_with_logits};
    cg_scope_begin();
    cg_tensor *inputs[2] = {variable(CG_SHAPE(3, 4)),
                            cg_set_requires_grad(cg_rand(CG_SHAPE(3, 4), CG_FLOAT64), true)};
    for (int l = 0; l < 3; l++)
        for (int r = 0; r < 3; r++) {
            loss_case c = {losses[l], reductions[r]};
            CHECK(GRADCHECK(pairwise_fn, inputs, 2, &c) == 0);
        }
    cg_scope_end();
}

TEST(loss_reductions_have_the_expected_shapes_and_relations) {
    const pairwise_loss_fn losses[] = {cg_mse_loss, cg_l1_loss, cg_bce_with_logits};
    cg_scope_begin();
    cg_tensor *prediction = cg_randn(CG_SHAPE(2, 5), CG_FLOAT64);
    cg_tensor *target = cg_rand(CG_SHAPE(2, 5), CG_FLOAT64);
    for (int l = 0; l < 3; l++) {
        cg_tensor *each = losses[l](prediction, target, CG_REDUCTION_NONE);
        cg_tensor *total = losses[l](prediction, target, CG_REDUCTION_SUM);
        cg_tensor *mean = losses[l](prediction, target, CG_REDUCTION_MEAN);
        CHECK(same_shape(each, CG_SHAPE(2, 5)));
        CHECK(cg_ndim(total) == 0 && cg_ndim(mean) == 0);
        CHECK_NEAR(cg_item(total), cg_item(cg_sum(each, CG_ALL_DIMS, false)), 1e-12);
        CHECK_NEAR(cg_item(mean), cg_item(total) / 10.0, 1e-12);
    }
    cg_tensor *error = cg_sub(prediction, target);
    CHECK_TENSOR_CLOSE(cg_l1_loss(prediction, target, CG_REDUCTION_NONE), cg_abs(error), 0, 0);
    cg_scope_end();
}

typedef struct {
    const cg_tensor *labels;
    cg_reduction reduction;
} cross_entropy_case;

static cg_tensor *cross_entropy_fn(cg_tensor **inputs, void *userdata) {
    const cross_entropy_case *c = userdata;
    return cg_cross_entropy(inputs[0], c->labels, c->reduction);
}

TEST(cross_entropy_gradients_for_every_reduction) {
    cg_scope_begin();
    cg_tensor *logits = variable(CG_SHAPE(5, 3));
    cg_tensor *labels64 = int64_tensor((int64_t[]){2, 0, 1, 2, 2}, CG_SHAPE(5));
    cg_tensor *labels32 = cg_from_array((int32_t[]){0, 0, 1, 2, 1}, CG_SHAPE(5), CG_INT32);
    for (int r = 0; r < 3; r++) {
        cross_entropy_case c64 = {labels64, reductions[r]}, c32 = {labels32, reductions[r]};
        CHECK(GRADCHECK(cross_entropy_fn, &logits, 1, &c64) == 0);
        CHECK(GRADCHECK(cross_entropy_fn, &logits, 1, &c32) == 0);
    }
    cg_scope_end();
}

/* Cross-entropy through gather agrees with the one-hot form -sum(onehot * log_softmax). */
TEST(cross_entropy_matches_the_one_hot_form) {
    cg_scope_begin();
    cg_tensor *logits = cg_mul_scalar(cg_randn(CG_SHAPE(6, 4), CG_FLOAT64), 3.0);
    cg_tensor *labels = cg_randint(0, 4, CG_SHAPE(6), CG_INT64);
    cg_tensor *encoded = cg_one_hot(labels, 4, CG_FLOAT64);
    cg_tensor *expected =
        cg_neg(cg_sum(cg_mul(encoded, cg_log_softmax(logits, 1)), CG_DIMS(1), false));
    cg_tensor *each = cg_cross_entropy(logits, labels, CG_REDUCTION_NONE);
    CHECK(same_shape(each, CG_SHAPE(6)));
    CHECK_TENSOR_CLOSE(each, expected, 1e-12, 1e-12);
    CHECK_NEAR(cg_item(cg_cross_entropy(logits, labels, CG_REDUCTION_MEAN)),
               cg_item(cg_mean(expected, CG_ALL_DIMS, false)), 1e-12);
    cg_scope_end();
}

/* Logits of +-1e4 overflow a naive exp; the stable forms stay finite, values and gradients. */
TEST(losses_stay_finite_for_extreme_logits) {
    const cg_dtype dtypes[] = {CG_FLOAT32, CG_FLOAT64};
    for (int k = 0; k < 2; k++) {
        cg_scope_begin();
        cg_tensor *logits = cg_set_requires_grad(
            cg_from_array((double[]){1e4, -1e4, 1e4, -1e4}, CG_SHAPE(4), CG_FLOAT64), true);
        cg_tensor *typed = cg_to_dtype(logits, dtypes[k]);
        cg_tensor *target =
            cg_to_dtype(cg_from_array((double[]){1, 0, 0, 1}, CG_SHAPE(4), CG_FLOAT64), dtypes[k]);
        /* Confidently right costs log(1 + e^-1e4) = 0; confidently wrong costs 1e4. */
        cg_tensor *each = cg_bce_with_logits(typed, target, CG_REDUCTION_NONE);
        CHECK_TENSOR_CLOSE(each, cg_from_array((double[]){0, 0, 1e4, 1e4}, CG_SHAPE(4), CG_FLOAT64),
                           1e-9, 1e-7);
        CHECK(cg_backward(cg_sum(each, CG_ALL_DIMS, false)) == 0);
        /* d/dx = sigmoid(x) - y. */
        CHECK_TENSOR_CLOSE(cg_grad(logits),
                           cg_from_array((double[]){0, 0, 1, -1}, CG_SHAPE(4), CG_FLOAT64), 1e-9,
                           0);

        cg_tensor *rows = cg_set_requires_grad(
            cg_from_array((double[]){1e4, -1e4, 0, -1e4, 1e4, 0}, CG_SHAPE(2, 3), CG_FLOAT64),
            true);
        cg_tensor *labels = int64_tensor((int64_t[]){0, 0}, CG_SHAPE(2));
        cg_tensor *ce = cg_cross_entropy(cg_to_dtype(rows, dtypes[k]), labels, CG_REDUCTION_SUM);
        CHECK_NEAR(cg_item(ce), 2e4, 1e-3);
        CHECK(cg_backward(ce) == 0);
        /* d/dlogits = softmax - onehot. */
        CHECK_TENSOR_CLOSE(cg_grad(rows),
                           cg_from_array((double[]){0, 0, 0, -1, 1, 0}, CG_SHAPE(2, 3), CG_FLOAT64),
                           1e-9, 0);
        cg_scope_end();
    }
}

TEST(pairwise_losses_report_bad_inputs) {
    cg_scope_begin();
    cg_tensor *a = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR(cg_mse_loss(a, cg_zeros(CG_SHAPE(3, 2), CG_FLOAT32), CG_REDUCTION_MEAN),
                "mse_loss: prediction of shape [2x3] and target of shape [3x2] must have the same");
    CHECK_ERROR(cg_l1_loss(a, cg_zeros(CG_SHAPE(3), CG_FLOAT32), CG_REDUCTION_SUM),
                "l1_loss: prediction of shape [2x3] and target of shape [3]");
    CHECK_ERROR(cg_bce_with_logits(a, cg_zeros(CG_SHAPE(2, 3), CG_FLOAT64), CG_REDUCTION_NONE),
                "bce_with_logits: dtype mismatch");
    CHECK_ERROR(cg_mse_loss(cg_zeros(CG_SHAPE(2), CG_INT64), cg_zeros(CG_SHAPE(2), CG_INT64),
                            CG_REDUCTION_MEAN),
                "mse_loss: expected a float32 or float64 tensor, got int64");
    CHECK_ERROR(cg_l1_loss(a, a, (cg_reduction)7), "l1_loss: invalid reduction 7");
    cg_clear_error();
    CHECK(cg_mse_loss(NULL, a, CG_REDUCTION_MEAN) == NULL);
    CHECK(cg_bce_with_logits(a, NULL, CG_REDUCTION_MEAN) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

TEST(cross_entropy_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *logits = cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32);
    cg_tensor *labels = int64_tensor((int64_t[]){0, 2}, CG_SHAPE(2));
    CHECK_ERROR(
        cg_cross_entropy(logits, int64_tensor((int64_t[]){0, 3}, CG_SHAPE(2)), CG_REDUCTION_MEAN),
        "cross_entropy: label 3 is out of range for 3 classes");
    CHECK_ERROR(
        cg_cross_entropy(logits, int64_tensor((int64_t[]){-2, 1}, CG_SHAPE(2)), CG_REDUCTION_MEAN),
        "cross_entropy: label -2 is out of range");
    CHECK_ERROR(
        cg_cross_entropy(logits, cg_zeros(CG_SHAPE(3), CG_INT64), CG_REDUCTION_MEAN),
        "cross_entropy: labels must have shape [N] = [2] for logits of shape [2x3], got [3]");
    CHECK_ERROR(cg_cross_entropy(logits, cg_zeros(CG_SHAPE(2, 1), CG_INT64), CG_REDUCTION_MEAN),
                "got [2x1]");
    CHECK_ERROR(cg_cross_entropy(logits, cg_zeros(CG_SHAPE(2), CG_FLOAT32), CG_REDUCTION_MEAN),
                "cross_entropy: labels must be int32 or int64, got float32");
    CHECK_ERROR(cg_cross_entropy(cg_zeros(CG_SHAPE(3), CG_FLOAT32), labels, CG_REDUCTION_MEAN),
                "cross_entropy: logits must have shape [N, C], got [3]");
    CHECK_ERROR(cg_cross_entropy(cg_zeros(CG_SHAPE(2, 3), CG_INT64), labels, CG_REDUCTION_MEAN),
                "cross_entropy: expected a float32 or float64");
    CHECK_ERROR(cg_cross_entropy(logits, labels, (cg_reduction)-1), "invalid reduction -1");
    cg_clear_error();
    CHECK(cg_cross_entropy(NULL, labels, CG_REDUCTION_MEAN) == NULL);
    CHECK(cg_cross_entropy(logits, NULL, CG_REDUCTION_MEAN) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}
