/* Buckets are fixed by the parameters' shapes alone, so every rank cuts the same ones; each is a
 * stretch of one host buffer holding every bucket, so the sums of several buckets can be in
 * flight at once. */
#include "distributed/grad_reducer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "distributed/buckets.h"
#include "distributed/world.h"

typedef struct {
    int first, end; /* its tensors, [first, end) of the reducer's reversed list */
    int64_t offset; /* its first element in the buffer */
    int64_t count;  /* its elements (with the header in the last bucket) */
    int pending;    /* its tensors whose gradient is not final yet */
    void *request;  /* its sum while in flight */
} grad_bucket;

struct cg_grad_reducer {
    cg_tensor **tensors; /* the parameters, last first */
    int64_t *numels;     /* the elements of each, as the buckets were cut */
    double *weights;     /* the weight of each, for the packing: the step's weight */
    bool *final;         /* whether each one's gradient is final */
    cg_tensor **grads;   /* room for a bucket's gradients, for packing and unpacking */
    int count;
    cg_dtype dtype;
    grad_bucket *buckets;
    int bucket_count;
    int started;         /* buckets started, in order */
    int started_by_hook; /* of them, during the backward pass */
    int header_count;
    char *buffer;
};

bool cg_grad_reducer_fits(cg_tensor *const *parameters, int count) {
    if (cg_distributed_world_size() < 2 || count < 1) return false;
    const cg_dtype dtype = parameters[0]->dtype;
    for (int i = 0; i < count; i++)
        if (parameters[i]->dtype != dtype || (dtype != CG_FLOAT32 && dtype != CG_FLOAT64) ||
            cg_tensor_device(parameters[i]).type != CG_DEVICE_CPU ||
            cg_numel(parameters[i]) > INT_MAX / 2)
            return false;
    return true;
}

void cg_grad_reducer_free(cg_grad_reducer *r) {
    if (!r) return;
    free(r->tensors);
    free(r->numels);
    free(r->weights);
    free(r->final);
    free(r->grads);
    free(r->buckets);
    free(r->buffer);
    free(r);
}

/* Cuts the reversed list into buckets of whole tensors, each up to the bucket size unless one
 * tensor alone is larger, and lays them out in the buffer; the header ends the last. */
static void plan_buckets(cg_grad_reducer *r) {
    const int64_t capacity = CG_GRAD_BUCKET_BYTES / (int64_t)cg_dtype_size(r->dtype);
    int64_t offset = 0;
    grad_bucket *b = NULL;
    for (int i = 0; i < r->count; i++) {
        const int64_t numel = r->numels[i];
        if (!b || (b->count > 0 && b->count + numel > capacity)) {
            b = &r->buckets[r->bucket_count++];
            *b = (grad_bucket){i, i, offset, 0, 0, NULL};
        }
        b->end = i + 1;
        b->count += numel;
        offset += numel;
    }
    b->count += r->header_count;
}

cg_grad_reducer *cg_grad_reducer_new(cg_tensor *const *parameters, int count, int header_count) {
    cg_grad_reducer *r = calloc(1, sizeof *r);
    int64_t elements = header_count;
    for (int i = 0; i < count; i++)
        elements += cg_numel(parameters[i]);
    if (r) {
        r->tensors = malloc(sizeof(cg_tensor *) * (size_t)count);
        r->numels = malloc(sizeof(int64_t) * (size_t)count);
        r->weights = malloc(sizeof(double) * (size_t)count);
        r->final = malloc(sizeof(bool) * (size_t)count);
        r->grads = malloc(sizeof(cg_tensor *) * (size_t)count);
        r->buckets = malloc(sizeof(grad_bucket) * (size_t)count);
        r->buffer = malloc((size_t)elements * cg_dtype_size(parameters[0]->dtype));
    }
    if (!r || !r->tensors || !r->numels || !r->weights || !r->final || !r->grads || !r->buckets ||
        !r->buffer) {
        cg_error_set("distributed: out of memory for the buckets of %lld gradient elements",
                     (long long)elements);
        cg_grad_reducer_free(r);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        r->numels[i] = cg_numel(parameters[count - 1 - i]);
    r->count = count;
    r->dtype = parameters[0]->dtype;
    r->header_count = header_count;
    plan_buckets(r);
    return r;
}

int cg_grad_reducer_begin(cg_grad_reducer *r, cg_tensor *const *parameters, int count,
                          double weight) {
    bool same = count == r->count;
    for (int i = 0; same && i < count; i++)
        same = parameters[count - 1 - i]->dtype == r->dtype &&
               cg_numel(parameters[count - 1 - i]) == r->numels[i];
    if (!same) {
        cg_error_set("distributed: the parameters changed since the gradient buckets were cut");
        return -1;
    }
    for (int i = 0; i < count; i++) {
        r->tensors[i] = parameters[count - 1 - i];
        r->weights[i] = weight;
        r->final[i] = false;
    }
    for (int k = 0; k < r->bucket_count; k++) {
        r->buckets[k].pending = r->buckets[k].end - r->buckets[k].first;
        r->buckets[k].request = NULL;
    }
    r->started = r->started_by_hook = 0;
    memset(cg_grad_reducer_header(r), 0, (size_t)r->header_count * cg_dtype_size(r->dtype));
    return 0;
}

/* The gradients of bucket b's parameters, in the reducer's room for them. */
static cg_tensor **bucket_grads(cg_grad_reducer *r, const grad_bucket *b) {
    for (int i = b->first; i < b->end; i++)
        r->grads[i - b->first] = r->tensors[i]->grad;
    return r->grads;
}

void *cg_grad_reducer_header(cg_grad_reducer *r) {
    return r->buffer + (size_t)(r->buckets[r->bucket_count - 1].offset +
                                r->buckets[r->bucket_count - 1].count - r->header_count) *
                           cg_dtype_size(r->dtype);
}

/* Packs bucket b's gradients into the buffer (before the header, in the last) and starts its
 * sum. 0, or -1 with an error. */
static int start_bucket(cg_grad_reducer *r, grad_bucket *b) {
    const size_t element = cg_dtype_size(r->dtype);
    cg_tensor **grads = bucket_grads(r, b);
    int status = 0;
    for (int i = 0; status == 0 && i < b->end - b->first; i++)
        if (!grads[i] || !cg_tensor_is_contiguous(grads[i])) {
            cg_error_set("distributed: parameter %d's gradient is %s", r->count - 1 - b->first - i,
                         grads[i] ? "not contiguous" : "missing");
            status = -1;
        }
    char *at = r->buffer + (size_t)b->offset * element;
    if (status == 0)
        status = cg_buckets_pack(grads, r->weights + b->first, b->end - b->first, r->dtype, at);
    if (status == 0 && !(b->request = cg_distributed_sum_start(at, b->count, r->dtype)))
        status = -1;
    if (status == 0) r->started++;
    return status;
}

/* Tests the sums in flight, which advances them. 0, or -1 with an error. */
static int advance(cg_grad_reducer *r) {
    for (int k = 0; k < r->started; k++) {
        bool done = false;
        if (r->buckets[k].request && cg_distributed_sum_test(r->buckets[k].request, &done) != 0) {
            r->buckets[k].request = NULL;
            return -1;
        }
        if (done) r->buckets[k].request = NULL;
    }
    return 0;
}

int cg_grad_reducer_hook(cg_tensor *leaf, void *reducer) {
    cg_grad_reducer *r = reducer;
    int i = 0;
    while (i < r->count && r->tensors[i] != leaf)
        i++;
    if (i == r->count || r->final[i]) return 0; /* not a parameter, or one listed twice */
    r->final[i] = true;
    grad_bucket *b = r->buckets;
    while (i >= b->end)
        b++;
    b->pending--;
    /* The last bucket waits for the header, after the pass. */
    while (r->started < r->bucket_count - 1 && r->buckets[r->started].pending == 0) {
        if (start_bucket(r, &r->buckets[r->started]) != 0) return -1;
        r->started_by_hook++;
    }
    return advance(r);
}

int cg_grad_reducer_finish(cg_grad_reducer *r) {
    int status = 0;
    while (status == 0 && r->started < r->bucket_count)
        status = start_bucket(r, &r->buckets[r->started]);
    /* Every sum started is waited for, even after an error, so that none is left in flight. */
    for (int k = 0; k < r->started; k++)
        if (r->buckets[k].request && cg_distributed_sum_wait(r->buckets[k].request) != 0 &&
            status == 0)
            status = -1;
    const size_t element = cg_dtype_size(r->dtype);
    for (int k = 0; status == 0 && k < r->bucket_count; k++) {
        const grad_bucket *b = &r->buckets[k];
        char *at = r->buffer + (size_t)b->offset * element;
        status = cg_buckets_unpack(bucket_grads(r, b), b->end - b->first, r->dtype, at);
    }
    return status;
}

void cg_grad_reducer_counts(const cg_grad_reducer *r, int *buckets, int *started_by_hook) {
    *buckets = r->bucket_count;
    *started_by_hook = r->started_by_hook;
}
