/* Convolution and pooling: float64 gradient checks over strides, paddings, dilations and shapes;
 * forward values and gradients against PyTorch (tests/fixtures/conv.txt, written by
 * tests/fixtures/make_conv_fixtures.py) in float64 and float32, with the BLAS and the built-in
 * matrix product; output shapes, "same" padding and errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "fixture_check.h"
#include "test.h"

#define GRADCHECK(fn, inputs, count, userdata)                                                     \
    cg_gradcheck((fn), (inputs), (count), (userdata), 1e-6, 1e-7, 1e-5)

static cg_tensor *variable(cg_shape shape) {
    return cg_set_requires_grad(cg_randn(shape, CG_FLOAT64), true);
}

static bool same_shape(const cg_tensor *t, cg_shape shape) {
    if (!t) return false;
    cg_shape actual = cg_tensor_shape(t);
    return actual.ndim == shape.ndim &&
           memcmp(actual.dims, shape.dims, sizeof(int64_t) * (size_t)shape.ndim) == 0;
}

/* Values 0.01 apart in a scrambled order (37 is prime to the element count), so no pooling
 * window has a tie, even after a finite-difference step. */
static cg_tensor *distinct_values(cg_shape shape) {
    int64_t count = 1;
    for (int d = 0; d < shape.ndim; d++)
        count *= shape.dims[d];
    double *values = malloc(sizeof(double) * (size_t)count);
    if (!values) return NULL;
    for (int64_t i = 0; i < count; i++)
        values[i] = (double)((i * 37) % count) * 0.01 - 1.0;
    cg_tensor *t = cg_from_array(values, shape, CG_FLOAT64);
    free(values);
    return t;
}

/* ----- gradient checks ----- */

typedef struct {
    cg_shape x, weight;
    bool bias;
    cg_conv2d_options options;
} conv_case;

static cg_tensor *conv_fn(cg_tensor **inputs, void *userdata) {
    const conv_case *c = userdata;
    return cg_conv2d(inputs[0], inputs[1], c->bias ? inputs[2] : NULL, &c->options);
}

TEST(conv2d_gradients_over_strides_paddings_and_dilations) {
    const conv_case cases[] = {
        {CG_SHAPE(2, 3, 5, 4), CG_SHAPE(2, 3, 3, 3), true, {0}},
        {CG_SHAPE(2, 2, 5, 6), CG_SHAPE(3, 2, 3, 3), false, {.padding_h = 1, .padding_w = 1}},
        {CG_SHAPE(2, 2, 7, 6),
         CG_SHAPE(2, 2, 3, 3),
         true,
         {.stride_h = 2, .stride_w = 2, .padding_h = 1, .padding_w = 1}},
        {CG_SHAPE(1, 3, 6, 7), CG_SHAPE(2, 3, 2, 3), true, {.stride_h = 2, .padding_same = true}},
        {CG_SHAPE(2, 2, 5, 6), CG_SHAPE(2, 2, 2, 4), false, {.padding_same = true}},
        {CG_SHAPE(2, 2, 7, 6),
         CG_SHAPE(2, 2, 3, 2),
         true,
         {.dilation_h = 2, .dilation_w = 2, .padding_h = 1}},
        {CG_SHAPE(2, 2, 8, 7),
         CG_SHAPE(2, 2, 2, 3),
         false,
         {.stride_h = 2, .stride_w = 3, .dilation_h = 2, .padding_same = true}},
        {CG_SHAPE(3, 2, 4, 5), CG_SHAPE(3, 2, 1, 1), true, {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cg_scope_begin();
        cg_tensor *inputs[3] = {variable(cases[i].x), variable(cases[i].weight),
                                variable(CG_SHAPE(cases[i].weight.dims[0]))};
        CHECK(GRADCHECK(conv_fn, inputs, cases[i].bias ? 3 : 2, (void *)&cases[i]) == 0);
        cg_scope_end();
    }
}

/* Strided views of x and weight reach the kernels as contiguous copies; the gradient flows back
 * through the copies. */
static cg_tensor *transposed_conv_fn(cg_tensor **inputs, void *userdata) {
    (void)userdata;
    const cg_conv2d_options options = {.padding_h = 1};
    return cg_conv2d(cg_transpose(inputs[0], 2, 3), cg_transpose(inputs[1], 2, 3), inputs[2],
                     &options);
}

TEST(conv2d_gradients_through_transposed_operands) {
    cg_scope_begin();
    cg_tensor *inputs[3] = {variable(CG_SHAPE(2, 2, 6, 4)), variable(CG_SHAPE(3, 2, 2, 3)),
                            variable(CG_SHAPE(3))};
    CHECK(GRADCHECK(transposed_conv_fn, inputs, 3, NULL) == 0);
    cg_scope_end();
}

/* Only one operand requires grad: the backward rule must skip the other. */
typedef struct {
    cg_tensor *constant;
    bool constant_is_input;
} one_operand_case;

static cg_tensor *one_operand_fn(cg_tensor **inputs, void *userdata) {
    const one_operand_case *c = userdata;
    const cg_conv2d_options options = {.stride_h = 2, .padding_w = 1};
    return c->constant_is_input ? cg_conv2d(c->constant, inputs[0], NULL, &options)
                                : cg_conv2d(inputs[0], c->constant, NULL, &options);
}

TEST(conv2d_gradients_of_one_operand_alone) {
    cg_scope_begin();
    one_operand_case weight_only = {cg_randn(CG_SHAPE(2, 2, 5, 5), CG_FLOAT64), true};
    one_operand_case input_only = {cg_randn(CG_SHAPE(3, 2, 3, 2), CG_FLOAT64), false};
    cg_tensor *weight = variable(CG_SHAPE(3, 2, 3, 2)), *x = variable(CG_SHAPE(2, 2, 5, 5));
    CHECK(GRADCHECK(one_operand_fn, &weight, 1, &weight_only) == 0);
    CHECK(GRADCHECK(one_operand_fn, &x, 1, &input_only) == 0);
    cg_scope_end();
}

/* A batch too large for one pass of the kernels (they work on about a million matrix elements at
 * a time; here 11 samples of (72 taps + 4 filters) x 1520 positions) is split into groups, the
 * last one smaller; each sample must come out as if convolved alone. */
TEST(conv2d_of_a_large_batch_matches_each_sample_alone) {
    enum { BATCH = 11 };
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(BATCH, 8, 40, 40));
    cg_tensor *weight = variable(CG_SHAPE(4, 8, 3, 3));
    cg_tensor *bias = variable(CG_SHAPE(4));
    cg_tensor *w = cg_randn(CG_SHAPE(BATCH, 4, 40, 38), CG_FLOAT64);
    const cg_conv2d_options options = {.padding_h = 1};
    cg_tensor *out = cg_conv2d(x, weight, bias, &options);
    CHECK(cg_backward_with(out, w) == 0);
    cg_tensor *batch_grads[3] = {cg_clone(cg_grad(x)), cg_clone(cg_grad(weight)),
                                 cg_clone(cg_grad(bias))};
    cg_zero_grad(x);
    cg_zero_grad(weight);
    cg_zero_grad(bias);
    for (int64_t n = 0; n < BATCH; n++) {
        cg_tensor *alone = cg_conv2d(cg_narrow(x, 0, n, 1), weight, bias, &options);
        CHECK_TENSOR_CLOSE(alone, cg_narrow(out, 0, n, 1), 1e-12, 0);
        CHECK(cg_backward_with(alone, cg_narrow(w, 0, n, 1)) == 0);
    }
    CHECK_TENSOR_CLOSE(cg_grad(x), batch_grads[0], 1e-12, 0);
    CHECK_TENSOR_CLOSE(cg_grad(weight), batch_grads[1], 1e-10, 0);
    CHECK_TENSOR_CLOSE(cg_grad(bias), batch_grads[2], 1e-10, 0);
    cg_scope_end();
}

/* The weight gradient of one batch computed on 1, 2 and 3 threads (the batch then split in
 * chunks whose shares are summed in chunk order): each run on a thread count repeats itself bit for
 * bit, and the counts agree within float32 rounding. */
TEST(conv2d_gradients_are_reproducible_on_any_thread_count) {
    cg_scope_begin();
    const int saved = cg_get_num_threads();
    cg_tensor *x = cg_set_requires_grad(cg_randn(CG_SHAPE(13, 8, 20, 20), CG_FLOAT32), true);
    cg_tensor *weight = cg_set_requires_grad(cg_randn(CG_SHAPE(16, 8, 3, 3), CG_FLOAT32), true);
    cg_tensor *g = cg_randn(CG_SHAPE(13, 16, 18, 18), CG_FLOAT32);
    cg_tensor *grads[3][2] = {{NULL}};
    bool repeated = true;
    for (int threads = 1; threads <= 3; threads++) {
        CHECK(cg_set_num_threads(threads) == 0);
        for (int run = 0; run < 2; run++) {
            cg_zero_grad(x);
            cg_zero_grad(weight);
            if (cg_backward_with(cg_conv2d(x, weight, NULL, NULL), g) != 0) repeated = false;
            cg_tensor *weight_grad = cg_clone(cg_grad(weight)), *x_grad = cg_clone(cg_grad(x));
            if (run == 0) {
                grads[threads - 1][0] = weight_grad;
                grads[threads - 1][1] = x_grad;
            } else {
                repeated = repeated && test_tensor_close(weight_grad, grads[threads - 1][0], 0, 0,
                                                         __FILE__, __LINE__);
                repeated = repeated && test_tensor_close(x_grad, grads[threads - 1][1], 0, 0,
                                                         __FILE__, __LINE__);
            }
        }
    }
    cg_set_num_threads(saved);
    CHECK(repeated);
    for (int threads = 2; threads <= 3; threads++) {
        CHECK_TENSOR_CLOSE(grads[threads - 1][0], grads[0][0], 1e-3, 1e-5);
        CHECK_TENSOR_CLOSE(grads[threads - 1][1], grads[0][1], 0, 0);
    }
    cg_scope_end();
}

/* A NaN wins its pooling window, as in PyTorch, wherever it lies in the window (here the last tap
 * of the first window and the first tap of the last one), and the window's gradient goes to it. */
TEST(max_pool2d_lets_a_nan_win_its_window) {
    cg_scope_begin();
    float values[16];
    for (int i = 0; i < 16; i++)
        values[i] = (float)((i * 7) % 16);
    values[5] = values[10] = NAN;
    cg_tensor *x =
        cg_set_requires_grad(cg_from_array(values, CG_SHAPE(1, 1, 4, 4), CG_FLOAT32), true);
    cg_tensor *out = cg_max_pool2d(x, 2, 2, 2, 2);
    CHECK(out && cg_backward_with(out, cg_ones_like(out)) == 0);
    float pooled[4], grad[16];
    CHECK(cg_copy_to_array(out, pooled, sizeof pooled) == 0);
    CHECK(cg_copy_to_array(cg_grad(x), grad, sizeof grad) == 0);
    /* The two windows without a NaN: (0, 1) holds taps 2, 3, 6, 7 and (1, 0) taps 8, 9, 12, 13. */
    const int plain[2][4] = {{2, 3, 6, 7}, {8, 9, 12, 13}};
    CHECK(isnan(pooled[0]) && isnan(pooled[3]));
    CHECK(grad[5] == 1 && grad[10] == 1);
    for (int window = 0; window < 2; window++) {
        int largest = plain[window][0];
        for (int t = 1; t < 4; t++)
            if (values[plain[window][t]] > values[largest]) largest = plain[window][t];
        CHECK(pooled[1 + window] == values[largest]);
        CHECK(grad[largest] == 1);
    }
    float total = 0;
    for (int i = 0; i < 16; i++)
        total += grad[i];
    CHECK(total == 4);
    cg_scope_end();
}

/* The tap of a 2x2 window (at its top-left, rows width apart) that max pooling picks: the first
 * of the largest in row order, or the first NaN. */
static int64_t reference_window_max(const double *values, int64_t at, int64_t width) {
    const int64_t taps[4] = {at, at + 1, at + width, at + width + 1};
    int64_t best = taps[0];
    for (int t = 1; t < 4 && !isnan(values[best]); t++)
        if (isnan(values[taps[t]]) || values[taps[t]] > values[best]) best = taps[t];
    return best;
}

/* 2x2 max pooling over rows long enough for the vector kernel (18 windows: two groups of eight
 * and a rest), an odd width (the last column in no window), many ties, signed zeros and NaNs, in
 * both dtypes: the pooled values (bit for bit: which zero wins shows) and the gradient, which
 * counts how often each input was picked, against a window-by-window search. */
TEST(max_pool2d_2x2_picks_the_first_largest_tap) {
    enum { PLANES = 6, HEIGHT = 9, WIDTH = 37, OUT_H = 4, OUT_W = 18 };
    static double values[PLANES * HEIGHT * WIDTH];
    for (int64_t i = 0; i < PLANES * HEIGHT * WIDTH; i++) {
        const int64_t scrambled = (i * 7919) % 61;
        values[i] = scrambled % 13 == 0   ? NAN
                    : scrambled % 11 == 0 ? -0.0
                    : scrambled % 7 == 0  ? 0.0
                                          : (double)(scrambled % 5) - 2.0;
    }
    const cg_dtype dtypes[2] = {CG_FLOAT32, CG_FLOAT64};
    for (int d = 0; d < 2; d++) {
        cg_scope_begin();
        cg_tensor *x = cg_set_requires_grad(
            cg_to_dtype(cg_from_array(values, CG_SHAPE(2, 3, HEIGHT, WIDTH), CG_FLOAT64),
                        dtypes[d]),
            true);
        cg_tensor *out = cg_max_pool2d(x, 2, 2, 2, 2);
        CHECK(out && cg_backward_with(out, cg_ones_like(out)) == 0);
        static double pooled[PLANES * OUT_H * OUT_W], grad[PLANES * HEIGHT * WIDTH];
        CHECK(cg_copy_to_array(cg_to_dtype(out, CG_FLOAT64), pooled, sizeof pooled) == 0);
        CHECK(cg_copy_to_array(cg_to_dtype(cg_grad(x), CG_FLOAT64), grad, sizeof grad) == 0);
        static double picked[PLANES * HEIGHT * WIDTH];
        memset(picked, 0, sizeof picked);
        bool values_match = true;
        for (int64_t plane = 0; plane < PLANES; plane++)
            for (int64_t oh = 0; oh < OUT_H; oh++)
                for (int64_t ow = 0; ow < OUT_W; ow++) {
                    const int64_t best = reference_window_max(
                        values, (plane * HEIGHT + 2 * oh) * WIDTH + 2 * ow, WIDTH);
                    picked[best] += 1;
                    const double got = pooled[(plane * OUT_H + oh) * OUT_W + ow];
                    values_match =
                        values_match &&
                        (isnan(values[best]) ? isnan(got)
                                             : memcmp(&got, &values[best], sizeof got) == 0);
                }
        CHECK(values_match);
        CHECK(memcmp(grad, picked, sizeof grad) == 0);
        cg_scope_end();
    }
}

/* The gradient max pooling passes back, computed window by window: zeros, then each window's
 * gradient added at the first of its largest taps (row order). */
static void reference_pool_backward(const double *values, const double *grad_out, int64_t planes,
                                    int64_t height, int64_t width, int kernel, int stride,
                                    double *grad_x) {
    const int64_t out_h = (height - kernel) / stride + 1, out_w = (width - kernel) / stride + 1;
    for (int64_t i = 0; i < planes * height * width; i++)
        grad_x[i] = 0;
    for (int64_t plane = 0; plane < planes; plane++)
        for (int64_t oh = 0; oh < out_h; oh++)
            for (int64_t ow = 0; ow < out_w; ow++) {
                int64_t best = -1;
                for (int kh = 0; kh < kernel; kh++)
                    for (int kw = 0; kw < kernel; kw++) {
                        const int64_t at =
                            (plane * height + oh * stride + kh) * width + ow * stride + kw;
                        if (best < 0 || values[at] > values[best]) best = at;
                    }
                grad_x[best] += grad_out[(plane * out_h + oh) * out_w + ow];
            }
}

/* The max pooling gradient bit for bit against window-by-window scattering, in both dtypes, with
 * ties and signed zeros in the gradient: windows that tile the input (2x2 and 3x3, even and odd
 * sizes, so that the last rows and columns lie in no window; rows of more than eight 2x2 windows,
 * which the forward pass's vector kernel pools) and overlapping ones (3x3 of stride 2, where
 * gradients add up). */
TEST(max_pool2d_backward_matches_scattering) {
    enum { PLANES = 4, MAX_SIDE = 27 };
    const struct {
        int64_t height, width;
        int kernel, stride;
    } cases[] = {{12, 14, 2, 2}, {13, 11, 2, 2}, {6, 27, 2, 2}, {7, 20, 2, 2},
                 {9, 13, 3, 3},  {11, 7, 3, 3},  {13, 12, 3, 2}};
    static double values[PLANES * MAX_SIDE * MAX_SIDE], grad_out[PLANES * MAX_SIDE * MAX_SIDE];
    static double grad[PLANES * MAX_SIDE * MAX_SIDE], expected[PLANES * MAX_SIDE * MAX_SIDE];
    for (int64_t i = 0; i < PLANES * MAX_SIDE * MAX_SIDE; i++) {
        values[i] = (double)((i * 7919) % 23 % 6);
        grad_out[i] = i % 5 == 0 ? -0.0 : (double)((i * 31) % 17) * 0.25 - 2.0;
    }
    const cg_dtype dtypes[2] = {CG_FLOAT32, CG_FLOAT64};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int d = 0; d < 2; d++) {
            cg_scope_begin();
            const int64_t height = cases[c].height, width = cases[c].width;
            const int kernel = cases[c].kernel, stride = cases[c].stride;
            const int64_t out_h = (height - kernel) / stride + 1;
            const int64_t out_w = (width - kernel) / stride + 1;
            cg_tensor *x = cg_set_requires_grad(
                cg_to_dtype(
                    cg_from_array(values, CG_SHAPE(2, PLANES / 2, height, width), CG_FLOAT64),
                    dtypes[d]),
                true);
            cg_tensor *seed = cg_to_dtype(
                cg_from_array(grad_out, CG_SHAPE(2, PLANES / 2, out_h, out_w), CG_FLOAT64),
                dtypes[d]);
            cg_tensor *out = cg_max_pool2d(x, kernel, kernel, stride, stride);
            CHECK(out && cg_backward_with(out, seed) == 0);
            const size_t bytes = sizeof(double) * (size_t)(PLANES * height * width);
            CHECK(cg_copy_to_array(cg_to_dtype(cg_grad(x), CG_FLOAT64), grad, bytes) == 0);
            reference_pool_backward(values, grad_out, PLANES, height, width, kernel, stride,
                                    expected);
            CHECK(memcmp(grad, expected, bytes) == 0);
            cg_scope_end();
        }
}

typedef struct {
    bool max;
    int kernel_h, kernel_w, stride_h, stride_w;
} pool_case;

static cg_tensor *pool_fn(cg_tensor **inputs, void *userdata) {
    const pool_case *c = userdata;
    return c->max ? cg_max_pool2d(inputs[0], c->kernel_h, c->kernel_w, c->stride_h, c->stride_w)
                  : cg_avg_pool2d(inputs[0], c->kernel_h, c->kernel_w, c->stride_h, c->stride_w);
}

TEST(pooling_gradients) {
    const pool_case windows[] = {{.kernel_h = 2, .kernel_w = 2},
                                 {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 2},
                                 {.kernel_h = 2, .kernel_w = 3, .stride_h = 2, .stride_w = 1}};
    const cg_shape shapes[] = {CG_SHAPE(2, 2, 6, 7), CG_SHAPE(2, 3, 5, 5), CG_SHAPE(1, 2, 7, 5)};
    for (int i = 0; i < 6; i++) {
        cg_scope_begin();
        pool_case c = windows[i % 3];
        c.max = i >= 3;
        cg_tensor *x = cg_set_requires_grad(distinct_values(shapes[i % 3]), true);
        CHECK(GRADCHECK(pool_fn, &x, 1, &c) == 0);
        cg_scope_end();
    }
}

static cg_tensor *global_avg_pool_fn(cg_tensor **inputs, void *userdata) {
    (void)userdata;
    return cg_global_avg_pool2d(inputs[0]);
}

TEST(global_avg_pool2d_gradients_and_values) {
    cg_scope_begin();
    cg_tensor *x = variable(CG_SHAPE(2, 3, 4, 5));
    CHECK(GRADCHECK(global_avg_pool_fn, &x, 1, NULL) == 0);
    cg_tensor *pooled = cg_global_avg_pool2d(x);
    CHECK(same_shape(pooled, CG_SHAPE(2, 3)));
    const int64_t at[2] = {1, 2};
    double total = 0;
    for (int64_t h = 0; h < 4; h++)
        for (int64_t w = 0; w < 5; w++)
            total += cg_get(x, (const int64_t[]){1, 2, h, w});
    CHECK_NEAR(cg_get(pooled, at), total / 20.0, 1e-12);
    cg_scope_end();
}

/* ----- against PyTorch ----- */

/* The case's op on its inputs. */
static cg_tensor *run_fixture_op(const char *file, const fixture_case *fixture,
                                 cg_tensor *const *inputs) {
    cg_tensor *x = inputs[0];
    if (strcmp(fixture->op, "conv2d") == 0) {
        const double *stride = fixture_attr_values(file, fixture, "stride", 2);
        const double *padding = fixture_attr_values(file, fixture, "padding", 2);
        const double *dilation = fixture_attr_values(file, fixture, "dilation", 2);
        const double *same = fixture_attr_values(file, fixture, "same", 1);
        if (!stride || !padding || !dilation || !same) return NULL;
        const cg_conv2d_options options = {
            .stride_h = (int)stride[0],
            .stride_w = (int)stride[1],
            .padding_h = (int)padding[0],
            .padding_w = (int)padding[1],
            .padding_same = same[0] != 0,
            .dilation_h = (int)dilation[0],
            .dilation_w = (int)dilation[1],
        };
        return cg_conv2d(x, inputs[1], inputs[2], &options);
    }
    const double *kernel = fixture_attr_values(file, fixture, "kernel", 2);
    const double *stride = fixture_attr_values(file, fixture, "stride", 2);
    if (!kernel || !stride) return NULL;
    const bool max = strcmp(fixture->op, "max_pool2d") == 0;
    if (!max && strcmp(fixture->op, "avg_pool2d") != 0) {
        test_fail(file, fixture->line, "unknown op %s", fixture->op);
        return NULL;
    }
    return (max ? cg_max_pool2d : cg_avg_pool2d)(x, (int)kernel[0], (int)kernel[1], (int)stride[0],
                                                 (int)stride[1]);
}

TEST(conv_and_pooling_match_pytorch) {
    /* The built-in matrix product too, when a BLAS would otherwise do the work. */
    const int gemm_variants = cg_gemm_has_blas() ? 2 : 1;
    bool ok = true;
    for (int builtin = 0; ok && builtin < gemm_variants; builtin++) {
        const bool previous = cg_gemm_force_builtin(builtin == 1);
        ok = fixture_check_op_cases("tests/fixtures/conv.txt", run_fixture_op);
        cg_gemm_force_builtin(previous);
    }
}

/* ----- shapes and padding ----- */

TEST(conv2d_output_shapes) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(2, 3, 7, 6), CG_FLOAT32);
    cg_tensor *weight = cg_randn(CG_SHAPE(4, 3, 3, 2), CG_FLOAT32);
    CHECK(same_shape(cg_conv2d(x, weight, NULL, NULL), CG_SHAPE(2, 4, 5, 5)));
    const cg_conv2d_options strided = {.stride_h = 2,
                                       .stride_w = 2,
                                       .padding_h = 1,
                                       .padding_w = 1,
                                       .dilation_h = 2,
                                       .dilation_w = 2};
    /* (7 + 2 - 5) / 2 + 1 rows and (6 + 2 - 3) / 2 + 1 columns. */
    CHECK(same_shape(cg_conv2d(x, weight, NULL, &strided), CG_SHAPE(2, 4, 3, 3)));
    /* "same" keeps ceil(size / stride) positions whatever the kernel and dilation. */
    const cg_conv2d_options same[] = {
        {.padding_same = true},
        {.padding_same = true, .stride_h = 2, .stride_w = 2},
        {.padding_same = true, .stride_h = 3, .stride_w = 4, .dilation_h = 2, .dilation_w = 3},
    };
    const cg_shape expected[] = {CG_SHAPE(2, 4, 7, 6), CG_SHAPE(2, 4, 4, 3), CG_SHAPE(2, 4, 3, 2)};
    for (int i = 0; i < 3; i++)
        CHECK(same_shape(cg_conv2d(x, weight, NULL, &same[i]), expected[i]));
    cg_scope_end();
}

TEST(conv2d_same_padding_puts_the_odd_row_and_column_after) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(2, 2, 5, 6), CG_FLOAT64);
    cg_tensor *odd = cg_randn(CG_SHAPE(3, 2, 3, 3), CG_FLOAT64);
    cg_tensor *even = cg_randn(CG_SHAPE(3, 2, 2, 2), CG_FLOAT64);
    cg_tensor *bias = cg_randn(CG_SHAPE(3), CG_FLOAT64);
    const cg_conv2d_options same = {.padding_same = true};
    const cg_conv2d_options one = {.padding_h = 1, .padding_w = 1};
    /* An odd kernel pads evenly: the same as one row and column on each side. */
    CHECK_TENSOR_CLOSE(cg_conv2d(x, odd, bias, &same), cg_conv2d(x, odd, bias, &one), 0, 0);
    /* A 2x2 kernel needs one row and one column, after the input: padding one on each side and
     * dropping the first output row and column gives the same result. */
    cg_tensor *both_sides = cg_conv2d(x, even, bias, &one);
    CHECK_TENSOR_CLOSE(cg_conv2d(x, even, bias, &same),
                       cg_narrow(cg_narrow(both_sides, 2, 1, 5), 3, 1, 6), 0, 0);
    cg_scope_end();
}

TEST(pooling_output_shapes) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(2, 3, 7, 5), CG_FLOAT32);
    CHECK(same_shape(cg_max_pool2d(x, 2, 2, 0, 0), CG_SHAPE(2, 3, 3, 2)));
    CHECK(same_shape(cg_avg_pool2d(x, 3, 2, 1, 3), CG_SHAPE(2, 3, 5, 2)));
    CHECK(same_shape(cg_max_pool2d(x, 7, 5, 0, 0), CG_SHAPE(2, 3, 1, 1)));
    CHECK(same_shape(cg_global_avg_pool2d(x), CG_SHAPE(2, 3)));
    cg_scope_end();
}

/* ----- errors ----- */

TEST(conv2d_reports_bad_operands_and_options) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(1, 3, 5, 5), CG_FLOAT32);
    cg_tensor *weight = cg_zeros(CG_SHAPE(2, 3, 3, 3), CG_FLOAT32);
    CHECK_ERROR(cg_conv2d(x, cg_zeros(CG_SHAPE(2, 4, 3, 3), CG_FLOAT32), NULL, NULL),
                "conv2d: input [1x3x5x5] has 3 channels but weight [2x4x3x3] expects 4");
    CHECK_ERROR(cg_conv2d(cg_zeros(CG_SHAPE(3, 5, 5), CG_FLOAT32), weight, NULL, NULL),
                "conv2d: input must be 4-D (N, C, H, W), got [3x5x5]");
    CHECK_ERROR(cg_conv2d(x, cg_zeros(CG_SHAPE(3, 3, 3), CG_FLOAT32), NULL, NULL),
                "conv2d: weight must be 4-D (F, C, KH, KW)");
    CHECK_ERROR(cg_conv2d(x, cg_zeros(CG_SHAPE(2, 3, 6, 3), CG_FLOAT32), NULL, NULL),
                "conv2d: kernel 6x3 (dilation included) is larger than the padded input 5x5");
    const cg_conv2d_options dilated = {.dilation_h = 3, .padding_w = 1};
    CHECK_ERROR(cg_conv2d(x, weight, NULL, &dilated),
                "kernel 7x3 (dilation included) is larger than the padded input 5x7");
    const cg_conv2d_options negative_stride = {.stride_h = 1, .stride_w = -2};
    CHECK_ERROR(cg_conv2d(x, weight, NULL, &negative_stride),
                "conv2d: stride must be positive (0 means 1), got 1x-2");
    const cg_conv2d_options negative_padding = {.padding_h = -1};
    CHECK_ERROR(cg_conv2d(x, weight, NULL, &negative_padding), "padding must not be negative");
    const cg_conv2d_options negative_dilation = {.dilation_w = -1};
    CHECK_ERROR(cg_conv2d(x, weight, NULL, &negative_dilation), "dilation must be positive");
    const cg_conv2d_options both = {.padding_same = true, .padding_w = 1};
    CHECK_ERROR(cg_conv2d(x, weight, NULL, &both), "padding_same cannot be combined");
    CHECK_ERROR(cg_conv2d(x, weight, cg_zeros(CG_SHAPE(3), CG_FLOAT32), NULL),
                "conv2d: bias [3] must be 1-D with one value per filter (2)");
    CHECK_ERROR(cg_conv2d(x, cg_zeros(CG_SHAPE(2, 3, 3, 3), CG_FLOAT64), NULL, NULL),
                "conv2d: dtype mismatch");
    CHECK_ERROR(cg_conv2d(cg_zeros(CG_SHAPE(1, 3, 5, 5), CG_INT32),
                          cg_zeros(CG_SHAPE(2, 3, 3, 3), CG_INT32), NULL, NULL),
                "conv2d: expected a float32 or float64");
    cg_clear_error();
    CHECK(cg_conv2d(NULL, weight, NULL, NULL) == NULL && cg_conv2d(x, NULL, NULL, NULL) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}

TEST(pooling_reports_bad_inputs) {
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(1, 2, 4, 4), CG_FLOAT32);
    CHECK_ERROR(cg_max_pool2d(cg_zeros(CG_SHAPE(2, 4, 4), CG_FLOAT32), 2, 2, 0, 0),
                "max_pool2d: input must be 4-D (N, C, H, W), got [2x4x4]");
    CHECK_ERROR(cg_avg_pool2d(cg_zeros(CG_SHAPE(4, 4), CG_FLOAT32), 2, 2, 0, 0),
                "avg_pool2d: input must be 4-D");
    CHECK_ERROR(cg_global_avg_pool2d(cg_zeros(CG_SHAPE(2, 4, 4), CG_FLOAT32)),
                "global_avg_pool2d: input must be 4-D");
    CHECK_ERROR(cg_max_pool2d(x, 2, 2, -1, 0),
                "max_pool2d: stride must be positive (0 means the kernel size), got -1x0");
    CHECK_ERROR(cg_avg_pool2d(x, 2, 2, 1, -1), "avg_pool2d: stride must be positive");
    CHECK_ERROR(cg_max_pool2d(x, 0, 2, 0, 0), "max_pool2d: kernel size must be positive, got 0x2");
    CHECK_ERROR(cg_avg_pool2d(x, 2, 5, 0, 0), "avg_pool2d: kernel 2x5");
    CHECK_ERROR(cg_max_pool2d(x, 5, 2, 0, 0), "larger than the padded input 4x4");
    CHECK_ERROR(cg_max_pool2d(cg_zeros(CG_SHAPE(1, 2, 4, 4), CG_INT64), 2, 2, 0, 0),
                "max_pool2d: expected a float32 or float64");
    /* No samples, so nothing is allocated: only the planes' size is refused. */
    CHECK_ERROR(cg_max_pool2d(cg_zeros(CG_SHAPE(0, 1, 46341, 46341), CG_FLOAT32), 2, 2, 0, 0),
                "max_pool2d: input [0x1x46341x46341] has planes of 2147488281 elements, more than "
                "the 2^31 - 1 whose positions it keeps");
    cg_clear_error();
    CHECK(cg_max_pool2d(NULL, 2, 2, 0, 0) == NULL && cg_avg_pool2d(NULL, 2, 2, 0, 0) == NULL &&
          cg_global_avg_pool2d(NULL) == NULL);
    CHECK(strcmp(cg_last_error(), "") == 0);
    cg_scope_end();
}
