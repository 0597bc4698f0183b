/* Convolution and max pooling on several threads: a batch smaller than the thread count has its
 * output rows cut into bands, one sample's convolution spreading over the threads; the bands
 * give the one-thread result (a single unfolding per sample), with the bias and the activation
 * applied band by band, and repeat themselves bit for bit.
 * Max pooling's backward pass splits planes across threads and gives the same sums on any
 * count, overlapping windows included. */
#include "test.h"

typedef struct {
    cg_shape x, weight;
    cg_conv2d_options options;
} banded_case;

/* The output of a case on 1 to 4 threads, each twice: every count repeats itself exactly and
 * agrees with one thread within rounding (float32: the products' blocking differs by band); and
 * the one-thread output, whose bias and activation the kernel applies band by band, is the
 * convolution without an activation followed by the activation as an op of its own. */
static bool check_banded_case(const banded_case *c, cg_dtype dtype, double rtol) {
    cg_tensor *x = cg_randn(c->x, dtype), *weight = cg_randn(c->weight, dtype);
    cg_tensor *bias = cg_randn(CG_SHAPE(c->weight.dims[0]), dtype);
    cg_tensor *one_thread = NULL;
    bool ok = x && weight && bias;
    for (int threads = 1; ok && threads <= 4; threads++) {
        ok = cg_set_num_threads(threads) == 0;
        cg_tensor *first = cg_conv2d(x, weight, bias, &c->options);
        cg_tensor *again = cg_conv2d(x, weight, bias, &c->options);
        ok = ok && first && again && test_tensor_close(again, first, 0, 0, __FILE__, __LINE__);
        if (threads == 1) one_thread = first;
        ok = ok && test_tensor_close(first, one_thread, rtol, rtol, __FILE__, __LINE__);
    }
    cg_conv2d_options plain = c->options;
    plain.activation = CG_ACTIVATION_NONE;
    return ok &&
           test_tensor_close(one_thread,
                             cg_activate(cg_conv2d(x, weight, bias, &plain), c->options.activation),
                             rtol, rtol, __FILE__, __LINE__);
}

TEST(conv2d_of_fewer_samples_than_threads_splits_output_rows) {
    cg_scope_begin();
    const int saved = cg_get_num_threads();
    /* Each large enough to be split: one sample with padding and a relu; one with stride,
     * padding and dilation, whose bands start at rows that read padding, and a tanh; three
     * samples (two bands each on four threads) without an activation. */
    const banded_case cases[] = {
        {CG_SHAPE(1, 4, 18, 18),
         CG_SHAPE(16, 4, 3, 3),
         {.padding_h = 1, .padding_w = 1, .activation = CG_ACTIVATION_RELU}},
        {CG_SHAPE(1, 8, 41, 37),
         CG_SHAPE(16, 8, 3, 3),
         {.stride_h = 2,
          .stride_w = 2,
          .padding_h = 2,
          .padding_w = 2,
          .dilation_h = 2,
          .dilation_w = 2,
          .activation = CG_ACTIVATION_TANH}},
        {CG_SHAPE(3, 4, 26, 20), CG_SHAPE(16, 4, 3, 3), {0}},
    };
    bool ok = true;
    for (int i = 0; ok && i < 3; i++)
        ok = check_banded_case(&cases[i], CG_FLOAT64, 1e-12) &&
             check_banded_case(&cases[i], CG_FLOAT32, 1e-5);
    cg_set_num_threads(saved);
    CHECK(ok);
    cg_scope_end();
}

/* 3x3 windows of stride 2 overlap, so input elements collect gradient from several windows; with
 * few distinct values most windows tie. */
TEST(max_pool2d_backward_is_the_same_on_any_thread_count) {
    cg_scope_begin();
    const int saved = cg_get_num_threads();
    cg_tensor *x = cg_set_requires_grad(
        cg_to_dtype(cg_randint(0, 4, CG_SHAPE(48, 32, 27, 27), CG_INT64), CG_FLOAT32), true);
    cg_tensor *g = cg_randn(CG_SHAPE(48, 32, 13, 13), CG_FLOAT32);
    cg_tensor *one_thread = NULL;
    bool ok = x && g;
    for (int threads = 1; ok && threads <= 3; threads++) {
        ok = cg_set_num_threads(threads) == 0;
        cg_zero_grad(x);
        ok = ok && cg_backward_with(cg_max_pool2d(x, 3, 3, 2, 2), g) == 0;
        cg_tensor *grad = cg_clone(cg_grad(x));
        if (threads == 1) one_thread = grad;
        ok = ok && grad && test_tensor_close(grad, one_thread, 0, 0, __FILE__, __LINE__);
    }
    cg_set_num_threads(saved);
    CHECK(ok);
    cg_scope_end();
}
