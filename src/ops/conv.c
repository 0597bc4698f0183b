/* Convolution and pooling over NCHW tensors. conv2d runs on the backend's im2col kernels; max
 * pooling keeps where each window's maximum lies, for its backward kernel to put the gradient back;
 * average pooling is a convolution of every channel on its own with a constant kernel, so it shares
 * conv2d's kernels and backward rule; global average pooling is a mean. */
#include <stdint.h>

#include "ops/epilogue.h"
#include "ops/ops.h"

static int64_t dilated_extent(int64_t kernel, int64_t dilation) {
    return (kernel - 1) * dilation + 1;
}

/* Fills w's output size from its input, kernel, stride, dilation and padding (pad_top and
 * pad_left in w, pad_bottom and pad_right given); false with an error naming op when the dilated
 * kernel does not fit the padded input. */
static bool window_output(const char *op, const cg_tensor *x, cg_window2d *w, int64_t pad_bottom,
                          int64_t pad_right) {
    const int64_t padded_h = w->height + w->pad_top + pad_bottom;
    const int64_t padded_w = w->width + w->pad_left + pad_right;
    const int64_t extent_h = dilated_extent(w->kernel_height, w->dilation_h);
    const int64_t extent_w = dilated_extent(w->kernel_width, w->dilation_w);
    if (extent_h > padded_h || extent_w > padded_w) {
        cg_error_set("%s: kernel %lldx%lld (dilation included) is larger than the padded input "
                     "%lldx%lld of %s",
                     op, (long long)extent_h, (long long)extent_w, (long long)padded_h,
                     (long long)padded_w, cg_shape_text(x));
        return false;
    }
    w->out_height = (padded_h - extent_h) / w->stride_h + 1;
    w->out_width = (padded_w - extent_w) / w->stride_w + 1;
    return true;
}

static bool require_nchw(const char *op, const char *what, const char *layout, const cg_tensor *t) {
    if (t->ndim == 4) return true;
    cg_error_set("%s: %s must be 4-D %s, got %s", op, what, layout, cg_shape_text(t));
    return false;
}

/* ----- conv2d ----- */

/* TensorFlow's "same" padding: the output has ceil(size / stride) positions and the padding they
 * need is split in two, the odd row or column going after (bottom or right). */
static void same_padding(int64_t size, int64_t stride, int64_t extent, int64_t *before,
                         int64_t *after) {
    const int64_t out = (size + stride - 1) / stride;
    const int64_t total = (out - 1) * stride + extent - size;
    *before = total > 0 ? total / 2 : 0;
    *after = total > 0 ? total - *before : 0;
}

static bool check_conv_options(const cg_conv2d_options *o) {
    if (o->stride_h < 0 || o->stride_w < 0) {
        cg_error_set("conv2d: stride must be positive (0 means 1), got %dx%d", o->stride_h,
                     o->stride_w);
        return false;
    }
    if (o->dilation_h < 0 || o->dilation_w < 0) {
        cg_error_set("conv2d: dilation must be positive (0 means 1), got %dx%d", o->dilation_h,
                     o->dilation_w);
        return false;
    }
    if (o->padding_h < 0 || o->padding_w < 0) {
        cg_error_set("conv2d: padding must not be negative, got %dx%d", o->padding_h, o->padding_w);
        return false;
    }
    if (o->padding_same && (o->padding_h || o->padding_w)) {
        cg_error_set("conv2d: padding_same cannot be combined with a padding of %dx%d",
                     o->padding_h, o->padding_w);
        return false;
    }
    if ((unsigned)o->activation >= CG_ACTIVATION_COUNT) {
        cg_error_set("conv2d: unknown activation %d", (int)o->activation);
        return false;
    }
    return true;
}

static bool conv_window(const cg_tensor *x, const cg_tensor *weight,
                        const cg_conv2d_options *options, cg_window2d *w) {
    const cg_conv2d_options o = options ? *options : (cg_conv2d_options){0};
    if (!check_conv_options(&o)) return false;
    *w = (cg_window2d){
        .batch = x->shape[0],
        .channels = x->shape[1],
        .height = x->shape[2],
        .width = x->shape[3],
        .kernel_height = weight->shape[2],
        .kernel_width = weight->shape[3],
        .stride_h = o.stride_h ? o.stride_h : 1,
        .stride_w = o.stride_w ? o.stride_w : 1,
        .pad_top = o.padding_h,
        .pad_left = o.padding_w,
        .dilation_h = o.dilation_h ? o.dilation_h : 1,
        .dilation_w = o.dilation_w ? o.dilation_w : 1,
    };
    int64_t pad_bottom = o.padding_h, pad_right = o.padding_w;
    if (o.padding_same) {
        same_padding(w->height, w->stride_h, dilated_extent(w->kernel_height, w->dilation_h),
                     &w->pad_top, &pad_bottom);
        same_padding(w->width, w->stride_w, dilated_extent(w->kernel_width, w->dilation_w),
                     &w->pad_left, &pad_right);
    }
    return window_output("conv2d", x, w, pad_bottom, pad_right);
}

static bool check_conv_operands(const cg_tensor *x, const cg_tensor *weight,
                                const cg_tensor *bias) {
    if (!require_nchw("conv2d", "input", "(N, C, H, W)", x) ||
        !require_nchw("conv2d", "weight", "(F, C, KH, KW)", weight) ||
        !cg_require_same_kind("conv2d", x, weight) || !cg_require_float("conv2d", x))
        return false;
    if (weight->shape[1] != x->shape[1]) {
        cg_error_set("conv2d: input %s has %lld channels but weight %s expects %lld",
                     cg_shape_text(x), (long long)x->shape[1], cg_shape_text(weight),
                     (long long)weight->shape[1]);
        return false;
    }
    if (weight->shape[2] == 0 || weight->shape[3] == 0) {
        cg_error_set("conv2d: weight %s has an empty kernel", cg_shape_text(weight));
        return false;
    }
    if (bias && !cg_require_same_kind("conv2d", x, bias)) return false;
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])) {
        cg_error_set("conv2d: bias %s must be 1-D with one value per filter (%lld)",
                     cg_shape_text(bias), (long long)weight->shape[0]);
        return false;
    }
    return true;
}

/* The node keeps the geometry that the shapes of x (input 0) and weight (input 1) do not give,
 * and the fused activation's op. */
enum { SAVED_STRIDE = 0, SAVED_PAD = 2, SAVED_DILATION = 4, SAVED_OUT = 6, SAVED_EPILOGUE = 8 };

static void save_conv_window(cg_node *node, const cg_window2d *w) {
    int64_t *saved = node->params.ints;
    saved[SAVED_STRIDE] = w->stride_h;
    saved[SAVED_STRIDE + 1] = w->stride_w;
    saved[SAVED_PAD] = w->pad_top;
    saved[SAVED_PAD + 1] = w->pad_left;
    saved[SAVED_DILATION] = w->dilation_h;
    saved[SAVED_DILATION + 1] = w->dilation_w;
    saved[SAVED_OUT] = w->out_height;
    saved[SAVED_OUT + 1] = w->out_width;
}

static cg_window2d saved_conv_window(const cg_node *node) {
    const cg_tensor *x = node->inputs[0], *weight = node->inputs[1];
    const int64_t *saved = node->params.ints;
    return (cg_window2d){
        .batch = x->shape[0],
        .channels = x->shape[1],
        .height = x->shape[2],
        .width = x->shape[3],
        .kernel_height = weight->shape[2],
        .kernel_width = weight->shape[3],
        .stride_h = saved[SAVED_STRIDE],
        .stride_w = saved[SAVED_STRIDE + 1],
        .pad_top = saved[SAVED_PAD],
        .pad_left = saved[SAVED_PAD + 1],
        .dilation_h = saved[SAVED_DILATION],
        .dilation_w = saved[SAVED_DILATION + 1],
        .out_height = saved[SAVED_OUT],
        .out_width = saved[SAVED_OUT + 1],
    };
}

/* The bias gradient: grad_out summed over samples and positions. The sum over positions is a
 * product with a vector of ones, so that it runs on the gemm's vector kernels rather than as a
 * chain of additions per (sample, filter). */
static cg_tensor *bias_gradient(const cg_tensor *grad_out) {
    const int64_t samples = grad_out->shape[0], filters = grad_out->shape[1];
    const int64_t positions = grad_out->shape[2] * grad_out->shape[3];
    cg_tensor *ones =
        cg_new_like_shape(grad_out, 2, (const int64_t[]){positions, 1}, grad_out->dtype);
    if (!ones || cg_tensor_backend(grad_out)->fill(ones, 1.0) != 0) return NULL;
    cg_tensor *per_sample =
        cg_matmul(cg_reshape(grad_out, CG_SHAPE(samples * filters, positions)), ones);
    return cg_sum(cg_reshape(per_sample, CG_SHAPE(samples, filters)), CG_DIMS(0), false);
}

static int conv2d_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                           cg_tensor **grads) {
    cg_tensor *x = node->inputs[0], *weight = node->inputs[1];
    const cg_backend *backend = cg_tensor_backend(x);
    const cg_window2d w = saved_conv_window(node);
    /* The fused activation's derivative first, from the output: the gradient of the convolution. */
    cg_tensor *grad_out = cg_contiguous(cg_epilogue_gradient(node, SAVED_EPILOGUE, out, g));
    if (!grad_out) return -1;
    if (x->requires_grad) {
        grads[0] = cg_empty_like(x);
        if (!grads[0] || backend->conv2d_backward_input(grad_out, weight, &w, grads[0]) != 0)
            return -1;
    }
    if (weight->requires_grad) {
        grads[1] = cg_empty_like(weight);
        if (!grads[1] || backend->conv2d_backward_weight(grad_out, x, &w, grads[1]) != 0) return -1;
    }
    if (node->input_count == 3 && node->inputs[2]->requires_grad) {
        grads[2] = bias_gradient(grad_out);
        if (!grads[2]) return -1;
    }
    return 0;
}

static const cg_op_def conv2d_op = {"conv2d", conv2d_backward};

cg_tensor *cg_conv2d(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                     const cg_conv2d_options *options) {
    if (!x || !weight) return NULL;
    cg_window2d w;
    if (!check_conv_operands(x, weight, bias) || !conv_window(x, weight, options, &w)) return NULL;
    const cg_activation activation = options ? options->activation : CG_ACTIVATION_NONE;
    cg_epilogue epilogue;
    const bool fused = cg_epilogue_of(activation, &epilogue);
    cg_scope_begin();
    const int count = bias ? 3 : 2;
    cg_tensor *inputs[3] = {cg_contiguous(x), cg_contiguous(weight),
                            bias ? cg_contiguous(bias) : NULL};
    cg_tensor *out = NULL;
    if (inputs[0] && inputs[1] && (!bias || inputs[2])) {
        const int64_t shape[4] = {w.batch, weight->shape[0], w.out_height, w.out_width};
        out = cg_new_like_shape(x, 4, shape, x->dtype);
        /* The kernel adds the bias and applies the activation while each part of the output
         * is in cache. */
        if (out && cg_tensor_backend(x)->conv2d_forward(inputs[0], inputs[1], inputs[2], &w,
                                                        epilogue.op, epilogue.params, out) != 0)
            out = NULL;
    }
    if (out && cg_needs_grad(inputs, count)) {
        cg_node *node = cg_node_attach(out, &conv2d_op, inputs, count);
        if (node) {
            save_conv_window(node, &w);
            cg_epilogue_save(node, SAVED_EPILOGUE, &epilogue);
        } else {
            out = NULL;
        }
    }
    if (out && !fused) out = cg_activate(out, activation);
    out = cg_keep(out);
    cg_scope_end();
    return out;
}

/* ----- pooling ----- */

static bool pool_window(const char *op, const cg_tensor *x, int kernel_h, int kernel_w,
                        int stride_h, int stride_w, cg_window2d *w) {
    if (!require_nchw(op, "input", "(N, C, H, W)", x) || !cg_require_float(op, x)) return false;
    if (kernel_h < 1 || kernel_w < 1) {
        cg_error_set("%s: kernel size must be positive, got %dx%d", op, kernel_h, kernel_w);
        return false;
    }
    if (stride_h < 0 || stride_w < 0) {
        cg_error_set("%s: stride must be positive (0 means the kernel size), got %dx%d", op,
                     stride_h, stride_w);
        return false;
    }
    *w = (cg_window2d){
        .batch = x->shape[0],
        .channels = x->shape[1],
        .height = x->shape[2],
        .width = x->shape[3],
        .kernel_height = kernel_h,
        .kernel_width = kernel_w,
        .stride_h = stride_h ? stride_h : kernel_h,
        .stride_w = stride_w ? stride_w : kernel_w,
        .dilation_h = 1,
        .dilation_w = 1,
    };
    return window_output(op, x, w, 0, 0);
}

/* The node of a max pooling keeps its kernel and stride; the input (input 0) and the indices
 * (saved 0) give the rest of its window. */
enum { SAVED_POOL_KERNEL = 0, SAVED_POOL_STRIDE = 2 };

static void save_pool_window(cg_node *node, const cg_window2d *w) {
    int64_t *saved = node->params.ints;
    saved[SAVED_POOL_KERNEL] = w->kernel_height;
    saved[SAVED_POOL_KERNEL + 1] = w->kernel_width;
    saved[SAVED_POOL_STRIDE] = w->stride_h;
    saved[SAVED_POOL_STRIDE + 1] = w->stride_w;
}

/* The gradient goes to where each window's maximum was. */
static int max_pool2d_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                               cg_tensor **grads) {
    (void)out;
    const cg_tensor *x = node->inputs[0], *indices = node->saved[0];
    const int64_t *saved = node->params.ints;
    const cg_window2d w = {.batch = x->shape[0],
                           .channels = x->shape[1],
                           .height = x->shape[2],
                           .width = x->shape[3],
                           .kernel_height = saved[SAVED_POOL_KERNEL],
                           .kernel_width = saved[SAVED_POOL_KERNEL + 1],
                           .stride_h = saved[SAVED_POOL_STRIDE],
                           .stride_w = saved[SAVED_POOL_STRIDE + 1],
                           .dilation_h = 1,
                           .dilation_w = 1,
                           .out_height = indices->shape[2],
                           .out_width = indices->shape[3]};
    cg_tensor *grad_out = cg_contiguous(g);
    cg_tensor *grad = cg_empty_like(x);
    if (!grad_out || !grad ||
        cg_tensor_backend(x)->max_pool2d_backward(grad_out, indices, &w, grad) != 0)
        return -1;
    grads[0] = grad;
    return 0;
}

static const cg_op_def max_pool2d_op = {"max_pool2d", max_pool2d_backward};

cg_tensor *cg_max_pool2d(const cg_tensor *x, int kernel_h, int kernel_w, int stride_h,
                         int stride_w) {
    if (!x) return NULL;
    cg_window2d w;
    if (!pool_window("max_pool2d", x, kernel_h, kernel_w, stride_h, stride_w, &w)) return NULL;
    /* Where each maximum lies is kept as a 32-bit position in its plane: half the memory and
     * traffic of 64 bits, for the largest saved tensor of a small network's pooling. */
    if (w.height * w.width > INT32_MAX) {
        cg_error_set("max_pool2d: input %s has planes of %lld elements, more than the 2^31 - 1 "
                     "whose positions it keeps",
                     cg_shape_text(x), (long long)(w.height * w.width));
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *input = cg_contiguous(x);
    const int64_t shape[4] = {w.batch, w.channels, w.out_height, w.out_width};
    cg_tensor *out = cg_new_like_shape(x, 4, shape, x->dtype);
    cg_tensor *indices = cg_new_like_shape(x, 4, shape, CG_INT32);
    if (!input || !out || !indices ||
        cg_tensor_backend(x)->max_pool2d(input, &w, out, indices) != 0)
        out = NULL;
    if (out && cg_needs_grad(&input, 1)) {
        cg_node *node = cg_node_attach(out, &max_pool2d_op, &input, 1);
        if (node) {
            cg_node_save(node, indices);
            save_pool_window(node, &w);
        } else
            out = NULL;
    }
    out = cg_keep(out);
    cg_scope_end();
    return out;
}

cg_tensor *cg_avg_pool2d(const cg_tensor *x, int kernel_h, int kernel_w, int stride_h,
                         int stride_w) {
    if (!x) return NULL;
    cg_window2d w;
    if (!pool_window("avg_pool2d", x, kernel_h, kernel_w, stride_h, stride_w, &w)) return NULL;
    cg_scope_begin();
    /* Every channel becomes a one-channel sample, convolved with a kernel of 1 / (its size). */
    cg_tensor *planes = cg_reshape(x, CG_SHAPE(w.batch * w.channels, 1, w.height, w.width));
    cg_tensor *weight =
        cg_new_like_shape(x, 4, (const int64_t[]){1, 1, kernel_h, kernel_w}, x->dtype);
    if (weight &&
        cg_tensor_backend(x)->fill(weight, 1.0 / ((double)kernel_h * (double)kernel_w)) != 0)
        weight = NULL;
    const cg_conv2d_options options = {.stride_h = (int)w.stride_h, .stride_w = (int)w.stride_w};
    cg_tensor *pooled = cg_conv2d(planes, weight, NULL, &options);
    cg_tensor *out =
        cg_keep(cg_reshape(pooled, CG_SHAPE(w.batch, w.channels, w.out_height, w.out_width)));
    cg_scope_end();
    return out;
}

cg_tensor *cg_global_avg_pool2d(const cg_tensor *x) {
    if (!x) return NULL;
    if (!require_nchw("global_avg_pool2d", "input", "(N, C, H, W)", x) ||
        !cg_require_float("global_avg_pool2d", x))
        return NULL;
    return cg_mean(x, CG_DIMS(2, 3), false);
}
