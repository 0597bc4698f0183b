/* The CPU elementwise kernels' two paths: contiguous operands (the vectorised loop, split over
 * threads above a size threshold) and strided ones (a transposed view) give the values computed
 * here element by element, on sizes below and above the threshold, with 1 and 2 threads. */
#include <stdlib.h>

#include "test.h"

/* Shapes rows x cols: a few elements, and enough that the kernels split the work. */
static const int64_t SIZES[][2] = {{3, 5}, {300, 257}};

typedef struct {
    int64_t rows, cols;
    float *x, *bias; /* x row-major rows x cols; bias one per column */
} operands;

/* The expected result of each op at element (i, j), in plain C. */
static float relu_at(const operands *o, int64_t i, int64_t j) {
    const float v = o->x[i * o->cols + j];
    return v > 0 ? v : 0;
}
static float relu_grad_at(const operands *o, int64_t i, int64_t j) {
    /* The upstream gradient is the bias broadcast over rows. */
    return o->x[i * o->cols + j] > 0 ? o->bias[j] : 0;
}
static float bias_add_at(const operands *o, int64_t i, int64_t j) {
    return o->x[i * o->cols + j] + o->bias[j];
}
static float square_at(const operands *o, int64_t i, int64_t j) {
    const float v = o->x[i * o->cols + j];
    return v * v;
}
static float where_at(const operands *o, int64_t i, int64_t j) {
    const float v = o->x[i * o->cols + j];
    return v > 0 ? v : o->bias[j];
}

static cg_tensor *expected_of(const operands *o, float (*at)(const operands *, int64_t, int64_t)) {
    float *values = malloc(sizeof(float) * (size_t)(o->rows * o->cols));
    if (!values) return NULL;
    for (int64_t i = 0; i < o->rows; i++)
        for (int64_t j = 0; j < o->cols; j++)
            values[i * o->cols + j] = at(o, i, j);
    cg_tensor *t = cg_from_array(values, CG_SHAPE(o->rows, o->cols), CG_FLOAT32);
    free(values);
    return t;
}

/* x as given (contiguous or a strided view) through relu (forward and backward), a broadcast
 * bias add, a product and where, each against the element-by-element values. */
static void check_ops(const cg_tensor *x_leaf, const cg_tensor *x, const cg_tensor *bias,
                      const operands *o) {
    cg_tensor *y = cg_relu(x);
    CHECK(y);
    CHECK_TENSOR_CLOSE(y, expected_of(o, relu_at), 0, 0);
    CHECK(cg_backward_with(y, cg_expand(bias, CG_SHAPE(o->rows, o->cols))) == 0);
    cg_tensor *grad = cg_grad(x_leaf);
    CHECK(grad);
    /* The leaf of a transposed view holds its gradient transposed. */
    if (cg_tensor_shape(grad).dims[0] != o->rows) grad = cg_transpose(grad, 0, 1);
    CHECK_TENSOR_CLOSE(grad, expected_of(o, relu_grad_at), 0, 0);
    CHECK_TENSOR_CLOSE(cg_add(x, bias), expected_of(o, bias_add_at), 0, 0);
    CHECK_TENSOR_CLOSE(cg_mul(x, x), expected_of(o, square_at), 0, 0);
    cg_tensor *positive = cg_gt(x, cg_zeros_like(x));
    CHECK(positive);
    CHECK_TENSOR_CLOSE(cg_where(positive, x, cg_expand(bias, CG_SHAPE(o->rows, o->cols))),
                       expected_of(o, where_at), 0, 0);
}

static void check_size(int64_t rows, int64_t cols) {
    operands o = {rows, cols, malloc(sizeof(float) * (size_t)(rows * cols)),
                  malloc(sizeof(float) * (size_t)cols)};
    CHECK(o.x && o.bias);
    cg_scope_begin();
    cg_manual_seed(7);
    cg_tensor *x = cg_randn(CG_SHAPE(rows, cols), CG_FLOAT32);
    cg_tensor *bias = cg_randn(CG_SHAPE(cols), CG_FLOAT32);
    bool read = cg_copy_to_array(x, o.x, sizeof(float) * (size_t)(rows * cols)) == 0 &&
                cg_copy_to_array(bias, o.bias, sizeof(float) * (size_t)cols) == 0;
    /* The same values as a transposed view of their cols x rows transpose. */
    cg_tensor *x_t = cg_contiguous(cg_transpose(x, 0, 1));
    if (read && x_t) {
        cg_tensor *contiguous = cg_set_requires_grad(cg_contiguous(x), true);
        check_ops(contiguous, contiguous, bias, &o);
        cg_set_requires_grad(x_t, true);
        if (!test_failed()) check_ops(x_t, cg_transpose(x_t, 0, 1), bias, &o);
    }
    cg_scope_end();
    free(o.x);
    free(o.bias);
    CHECK(read && x_t);
}

TEST(elementwise_contiguous_and_strided_operands_agree_with_reference_values) {
    const int saved = cg_get_num_threads();
    for (int threads = 1; threads <= 2 && !test_failed(); threads++) {
        CHECK(cg_set_num_threads(threads) == 0);
        for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0] && !test_failed(); s++)
            check_size(SIZES[s][0], SIZES[s][1]);
    }
    CHECK(cg_set_num_threads(saved) == 0);
}
