/* Convolution through cuDNN, in builds that have it (CGRAD_CUDNN). A float32 convolution whose
 * padding cuDNN can express (pad_top and pad_left on both sides give the window's output size)
 * runs here; the others, and float64, take the im2col path of cuda_conv.cu. Each GPU gets a cuDNN
 * handle on its stream at its first convolution, and descriptors reused under a lock. The
 * algorithm of each shape is chosen once, from cuDNN's heuristics, and remembered; workspaces come
 * from the caching allocator. Math is full float32 unless the calling thread enabled TF32. */
#include <limits.h>
#include <string.h>

#include <cudnn.h>

#include "backend/cuda/cuda_internal.h"
#include "core/error.h"

enum { PLAN_CACHE_SIZE = 64, MAX_ALGORITHMS = 16 };

/* What an algorithm is chosen for. */
typedef struct {
    cg_cudnn_pass pass;
    bool tf32;
    int64_t filters;
    cg_window2d window;
} plan_key;

typedef struct {
    plan_key key;
    int algorithm; /* the pass's cudnnConvolution*Algo_t; -1: none qualifies, im2col runs it */
    cudnnMathType_t math;
    size_t workspace_bytes;
} plan;

/* One of cuDNN's ranked answers, whichever pass it is for. */
typedef struct {
    int algorithm;
    cudnnStatus_t status;
    size_t memory;
    cudnnMathType_t math;
} candidate;

typedef struct {
    bool ready;
    cudnnHandle_t handle;
    cudnnTensorDescriptor_t input, output;
    cudnnFilterDescriptor_t weight;
    cudnnConvolutionDescriptor_t convolution;
    plan plans[PLAN_CACHE_SIZE];
    int plan_count, next_replaced;
} cudnn_context;

/* One lock for every GPU's context: it is held only while a pass is queued. */
static pthread_mutex_t contexts_lock = PTHREAD_MUTEX_INITIALIZER;
static cudnn_context contexts[CG_CUDA_MAX_DEVICES];

static bool cudnn_ok(cudnnStatus_t status, const char *what) {
    if (status == CUDNN_STATUS_SUCCESS) return true;
    cg_error_set("conv2d: cuDNN %s: %s", what, cudnnGetErrorString(status));
    return false;
}

/* Creates the handle and descriptors of device's context once. Called with the lock held. */
static bool prepare_context(cudnn_context *context, const cg_cuda_device *device) {
    if (context->ready) return true;
    context->ready =
        cudnn_ok(cudnnCreate(&context->handle), "creating the handle") &&
        cudnn_ok(cudnnSetStream(context->handle, device->stream), "setting the stream") &&
        cudnn_ok(cudnnCreateTensorDescriptor(&context->input), "creating a descriptor") &&
        cudnn_ok(cudnnCreateTensorDescriptor(&context->output), "creating a descriptor") &&
        cudnn_ok(cudnnCreateFilterDescriptor(&context->weight), "creating a descriptor") &&
        cudnn_ok(cudnnCreateConvolutionDescriptor(&context->convolution), "creating a descriptor");
    if (context->ready) return true;
    /* Nothing is kept from a failed attempt: the next convolution tries again. */
    if (context->convolution) cudnnDestroyConvolutionDescriptor(context->convolution);
    if (context->weight) cudnnDestroyFilterDescriptor(context->weight);
    if (context->output) cudnnDestroyTensorDescriptor(context->output);
    if (context->input) cudnnDestroyTensorDescriptor(context->input);
    if (context->handle) cudnnDestroy(context->handle);
    memset(context, 0, sizeof *context);
    return false;
}

static bool fits_int(const cg_window2d *w, int64_t filters) {
    const int64_t sizes[] = {w->batch,     w->channels,      w->height,       w->width,
                             filters,      w->kernel_height, w->kernel_width, w->stride_h,
                             w->stride_w,  w->pad_top,       w->pad_left,     w->dilation_h,
                             w->dilation_w};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] > INT_MAX) return false;
    return true;
}

/* Sets the descriptors for the convolution of w with filters filters, in FMA math unless tf32
 * (cuDNN then ranks only algorithms of that math). *expressible is false when cuDNN's symmetric
 * padding gives another output size than the window's. */
static bool describe(cudnn_context *context, const cg_window2d *w, int64_t filters, bool tf32,
                     bool *expressible) {
    int n = 0, c = 0, h = 0, wd = 0;
    const bool ok =
        cudnn_ok(cudnnSetTensor4dDescriptor(context->input, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                            (int)w->batch, (int)w->channels, (int)w->height,
                                            (int)w->width),
                 "describing the input") &&
        cudnn_ok(cudnnSetFilter4dDescriptor(context->weight, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                            (int)filters, (int)w->channels, (int)w->kernel_height,
                                            (int)w->kernel_width),
                 "describing the weight") &&
        cudnn_ok(cudnnSetConvolution2dDescriptor(
                     context->convolution, (int)w->pad_top, (int)w->pad_left, (int)w->stride_h,
                     (int)w->stride_w, (int)w->dilation_h, (int)w->dilation_w,
                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                 "describing the convolution") &&
        cudnn_ok(cudnnSetConvolutionMathType(context->convolution,
                                             tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
                 "setting the math") &&
        cudnn_ok(cudnnGetConvolution2dForwardOutputDim(context->convolution, context->input,
                                                       context->weight, &n, &c, &h, &wd),
                 "sizing the output");
    *expressible = ok && h == w->out_height && wd == w->out_width;
    return ok && (!*expressible ||
                  cudnn_ok(cudnnSetTensor4dDescriptor(context->output, CUDNN_TENSOR_NCHW,
                                                      CUDNN_DATA_FLOAT, (int)w->batch, (int)filters,
                                                      (int)w->out_height, (int)w->out_width),
                           "describing the output"));
}

/* cuDNN's heuristic ranking of the algorithms for pass, with the descriptors set; the count, or
 * -1 with an error. */
static int rank_algorithms(cudnn_context *c, cg_cudnn_pass pass, candidate *ranked) {
    int count = 0;
    bool ok = false;
    if (pass == CG_CUDNN_FORWARD) {
        cudnnConvolutionFwdAlgoPerf_t perf[MAX_ALGORITHMS];
        ok = cudnn_ok(cudnnGetConvolutionForwardAlgorithm_v7(c->handle, c->input, c->weight,
                                                             c->convolution, c->output,
                                                             MAX_ALGORITHMS, &count, perf),
                      "ranking forward algorithms");
        for (int i = 0; ok && i < count; i++)
            ranked[i] =
                (candidate){(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType};
    } else if (pass == CG_CUDNN_BACKWARD_INPUT) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[MAX_ALGORITHMS];
        ok = cudnn_ok(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->handle, c->weight, c->output,
                                                                  c->convolution, c->input,
                                                                  MAX_ALGORITHMS, &count, perf),
                      "ranking input-gradient algorithms");
        for (int i = 0; ok && i < count; i++)
            ranked[i] =
                (candidate){(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType};
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[MAX_ALGORITHMS];
        ok = cudnn_ok(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->handle, c->input, c->output,
                                                                    c->convolution, c->weight,
                                                                    MAX_ALGORITHMS, &count, perf),
                      "ranking weight-gradient algorithms");
        for (int i = 0; ok && i < count; i++)
            ranked[i] =
                (candidate){(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType};
    }
    return ok ? count : -1;
}

static bool same_key(const plan_key *a, const plan_key *b) {
    /* The window holds int64 fields only, so it compares bytewise. */
    return a->pass == b->pass && a->tf32 == b->tf32 && a->filters == b->filters &&
           memcmp(&a->window, &b->window, sizeof a->window) == 0;
}

/* The plan for key: remembered, or the best-ranked algorithm that runs in the math allowed
 * (FMA only without TF32) with a workspace of at most a quarter of the free memory. 0, -1 with an
 * error, or CG_CUDNN_NOT_USED when no algorithm qualifies. */
static int find_plan(cudnn_context *context, const plan_key *key, plan *found) {
    for (int i = 0; i < context->plan_count; i++)
        if (same_key(&context->plans[i].key, key)) {
            *found = context->plans[i];
            return found->algorithm < 0 ? CG_CUDNN_NOT_USED : 0;
        }
    size_t free_bytes = 0, total_bytes = 0;
    if (!cg_cuda_ok(cudaMemGetInfo(&free_bytes, &total_bytes), "conv2d: reading free memory"))
        return -1;
    candidate ranked[MAX_ALGORITHMS];
    const int count = rank_algorithms(context, key->pass, ranked);
    if (count < 0) return -1;
    *found = (plan){*key, -1, CUDNN_FMA_MATH, 0};
    for (int i = 0; i < count && found->algorithm < 0; i++) {
        const candidate *c = &ranked[i];
        if (c->status == CUDNN_STATUS_SUCCESS && c->memory <= free_bytes / 4 &&
            (key->tf32 || c->math == CUDNN_FMA_MATH))
            *found = (plan){*key, c->algorithm, c->math, c->memory};
    }
    const int slot =
        context->plan_count < PLAN_CACHE_SIZE ? context->plan_count++ : context->next_replaced++;
    context->next_replaced %= PLAN_CACHE_SIZE;
    context->plans[slot] = *found;
    return found->algorithm < 0 ? CG_CUDNN_NOT_USED : 0;
}

/* Queues the plan's pass on the context's descriptors. */
static int run_plan(cudnn_context *c, cg_cuda_device *device, const plan *p, const void *first,
                    const void *second, void *result) {
    void *workspace = p->workspace_bytes ? cg_cuda_alloc(device, p->workspace_bytes) : NULL;
    if (p->workspace_bytes && !workspace) return -1;
    const float one = 1, zero = 0;
    bool ok = cudnn_ok(cudnnSetConvolutionMathType(c->convolution, p->math), "setting the math");
    if (ok && p->key.pass == CG_CUDNN_FORWARD)
        ok = cudnn_ok(cudnnConvolutionForward(c->handle, &one, c->input, first, c->weight, second,
                                              c->convolution,
                                              (cudnnConvolutionFwdAlgo_t)p->algorithm, workspace,
                                              p->workspace_bytes, &zero, c->output, result),
                      "forward");
    else if (ok && p->key.pass == CG_CUDNN_BACKWARD_INPUT)
        ok = cudnn_ok(cudnnConvolutionBackwardData(
                          c->handle, &one, c->weight, first, c->output, second, c->convolution,
                          (cudnnConvolutionBwdDataAlgo_t)p->algorithm, workspace,
                          p->workspace_bytes, &zero, c->input, result),
                      "input gradient");
    else if (ok)
        ok = cudnn_ok(cudnnConvolutionBackwardFilter(
                          c->handle, &one, c->input, first, c->output, second, c->convolution,
                          (cudnnConvolutionBwdFilterAlgo_t)p->algorithm, workspace,
                          p->workspace_bytes, &zero, c->weight, result),
                      "weight gradient");
    /* Stream order puts the block's next use after this pass. */
    cg_cuda_free(device, workspace, p->workspace_bytes);
    return ok ? 0 : -1;
}

int cg_cudnn_conv2d(cg_cuda_device *device, cg_cudnn_pass pass, cg_dtype dtype,
                    const cg_window2d *window, int64_t filters, const void *first,
                    const void *second, void *result) {
    if (dtype != CG_FLOAT32 || !fits_int(window, filters)) return CG_CUDNN_NOT_USED;
    const plan_key key = {pass, cg_is_tf32_enabled(), filters, *window};
    cudnn_context *context = &contexts[device->index];
    pthread_mutex_lock(&contexts_lock);
    bool expressible = false;
    int status = prepare_context(context, device) &&
                         describe(context, window, filters, key.tf32, &expressible)
                     ? 0
                     : -1;
    if (status == 0) status = expressible ? 0 : CG_CUDNN_NOT_USED;
    plan chosen;
    if (status == 0) status = find_plan(context, &key, &chosen);
    if (status == 0) status = run_plan(context, device, &chosen, first, second, result);
    pthread_mutex_unlock(&contexts_lock);
    return status;
}
