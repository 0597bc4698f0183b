/* Buckets as a cursor walking the concatenated elements of one dtype's tensors: each bucket is
 * filled from the cursor, exchanged, then written back by walking the same stretch again, so no
 * list of the pieces a bucket holds is kept. */
#include "distributed/buckets.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"

typedef struct {
    int index;       /* the tensor the cursor is in */
    int64_t element; /* the next element of that tensor */
} bucket_cursor;

/* out = in times weight over count float elements of dtype (out may be in). */
static void weigh(char *out, const char *in, int64_t count, cg_dtype dtype, double weight) {
    if (dtype == CG_FLOAT32) {
        for (int64_t i = 0; i < count; i++)
            ((float *)out)[i] = (float)((double)((const float *)in)[i] * weight);
    } else {
        for (int64_t i = 0; i < count; i++)
            ((double *)out)[i] = ((const double *)in)[i] * weight;
    }
}

/* Reads count elements of dtype from byte offset of storage into packed, times weight: in one
 * pass from host memory, so that weighting costs no pass of its own; from a device, copied, then
 * weighed in the bucket. */
static int read_piece(const cg_storage *storage, size_t offset, char *packed, int64_t count,
                      cg_dtype dtype, double weight) {
    if (weight != 1 && storage->device.type == CG_DEVICE_CPU) {
        weigh(packed, (const char *)storage->data + offset, count, dtype, weight);
        return 0;
    }
    if (cg_storage_read(storage, offset, packed, (size_t)count * cg_dtype_size(dtype)) != 0)
        return -1;
    if (weight != 1) weigh(packed, packed, count, dtype, weight);
    return 0;
}

/* Moves up to capacity elements of dtype between the tensors, from *at on, and buffer (into the
 * buffer, weighted, when reading); advances *at past them. The number moved, or -1 with an
 * error. */
static int64_t move_elements(cg_tensor *const *tensors, const double *weights, int count,
                             cg_dtype dtype, bucket_cursor *at, char *buffer, int64_t capacity,
                             bool reading) {
    const size_t element_size = cg_dtype_size(dtype);
    int64_t moved = 0;
    for (; at->index < count && moved < capacity; at->index++, at->element = 0) {
        cg_tensor *t = tensors[at->index];
        if (t->dtype != dtype) continue;
        const int64_t left = cg_numel(t) - at->element;
        const int64_t take = left < capacity - moved ? left : capacity - moved;
        const size_t offset = (size_t)(t->offset + at->element) * element_size;
        char *packed = buffer + (size_t)moved * element_size;
        const double weight = weights ? weights[at->index] : 1;
        if (take > 0 && (reading ? read_piece(t->storage, offset, packed, take, dtype, weight)
                                 : cg_storage_write(t->storage, offset, packed,
                                                    (size_t)take * element_size)) != 0)
            return -1;
        moved += take;
        at->element += take;
        if (at->element < cg_numel(t)) break; /* the bucket is full inside this tensor */
    }
    return moved;
}

/* The buffer a run packs its buckets into when the exchange has no place of its own: allocated
 * at the first need, no larger than the elements need, with room for one element of any dtype. */
typedef struct {
    char *memory;
    size_t bytes;
} own_buffer;

static char *bucket_buffer(own_buffer *own, cg_bucket_place place) {
    char *at = place ? place() : NULL;
    if (at) return at;
    if (!own->memory && !(own->memory = malloc(own->bytes + sizeof(int64_t))))
        cg_error_set("distributed: out of memory for a bucket of %zu bytes", own->bytes);
    return own->memory;
}

/* The buckets of one dtype. */
static int run_dtype(cg_tensor *const *tensors, const double *weights, int count, cg_dtype dtype,
                     own_buffer *own, int64_t capacity, cg_bucket_place place,
                     cg_bucket_exchange exchange, void *userdata) {
    bucket_cursor at = {0, 0};
    for (;;) {
        char *buffer = bucket_buffer(own, place);
        if (!buffer) return -1;
        bucket_cursor bucket_start = at;
        const int64_t filled =
            move_elements(tensors, weights, count, dtype, &at, buffer, capacity, true);
        if (filled <= 0) return (int)filled;
        if (exchange(buffer, filled, dtype, userdata) != 0 ||
            move_elements(tensors, NULL, count, dtype, &bucket_start, buffer, filled, false) !=
                filled)
            return -1;
    }
}

int cg_buckets_run(cg_tensor *const *tensors, const double *weights, int count, size_t bucket_bytes,
                   cg_bucket_place place, cg_bucket_exchange exchange, void *userdata) {
    size_t total_bytes = 0;
    for (int i = 0; i < count; i++)
        total_bytes += (size_t)cg_numel(tensors[i]) * cg_dtype_size(tensors[i]->dtype);
    own_buffer own = {NULL, total_bytes < bucket_bytes ? total_bytes : bucket_bytes};
    int status = 0;
    for (int dtype = 0; status == 0 && dtype < CG_DTYPE_COUNT; dtype++) {
        const size_t element_size = cg_dtype_size((cg_dtype)dtype);
        const int64_t capacity =
            bucket_bytes >= element_size ? (int64_t)(bucket_bytes / element_size) : 1;
        status = run_dtype(tensors, weights, count, (cg_dtype)dtype, &own, capacity, place,
                           exchange, userdata);
    }
    free(own.memory);
    return status;
}

int cg_buckets_pack(cg_tensor *const *tensors, const double *weights, int count, cg_dtype dtype,
                    void *buffer) {
    bucket_cursor at = {0, 0};
    return move_elements(tensors, weights, count, dtype, &at, buffer, INT64_MAX, true) < 0 ? -1 : 0;
}

int cg_buckets_unpack(cg_tensor *const *tensors, int count, cg_dtype dtype, void *buffer) {
    bucket_cursor at = {0, 0};
    return move_elements(tensors, NULL, count, dtype, &at, buffer, INT64_MAX, false) < 0 ? -1 : 0;
}
