/* Buckets as a cursor walking the concatenated elements of one dtype's tensors: each bucket is
 * filled from the cursor, exchanged, then written back by walking the same stretch again, so no
 * list of the pieces a bucket holds is kept. */
#include "distributed/buckets.h"

#include <stdlib.h>

#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"

typedef struct {
    int index;       /* the tensor the cursor is in */
    int64_t element; /* the next element of that tensor */
} bucket_cursor;

/* Moves up to capacity elements of dtype between the tensors, from *at on, and buffer (into the
 * buffer when reading); advances *at past them. The number moved, or -1 with an error. */
static int64_t move_elements(cg_tensor *const *tensors, int count, cg_dtype dtype,
                             bucket_cursor *at, char *buffer, int64_t capacity, bool reading) {
    const size_t element_size = cg_dtype_size(dtype);
    int64_t moved = 0;
    for (; at->index < count && moved < capacity; at->index++, at->element = 0) {
        cg_tensor *t = tensors[at->index];
        if (t->dtype != dtype) continue;
        const int64_t left = cg_numel(t) - at->element;
        const int64_t take = left < capacity - moved ? left : capacity - moved;
        const size_t offset = (size_t)(t->offset + at->element) * element_size;
        char *packed = buffer + (size_t)moved * element_size;
        const size_t nbytes = (size_t)take * element_size;
        if (take > 0 && (reading ? cg_storage_read(t->storage, offset, packed, nbytes)
                                 : cg_storage_write(t->storage, offset, packed, nbytes)) != 0)
            return -1;
        moved += take;
        at->element += take;
        if (at->element < cg_numel(t)) break; /* the bucket is full inside this tensor */
    }
    return moved;
}

/* The buckets of one dtype. */
static int run_dtype(cg_tensor *const *tensors, int count, cg_dtype dtype, char *buffer,
                     int64_t capacity, cg_bucket_exchange exchange, void *userdata) {
    bucket_cursor at = {0, 0};
    for (;;) {
        bucket_cursor bucket_start = at;
        const int64_t filled = move_elements(tensors, count, dtype, &at, buffer, capacity, true);
        if (filled <= 0) return (int)filled;
        if (exchange(buffer, filled, dtype, userdata) != 0 ||
            move_elements(tensors, count, dtype, &bucket_start, buffer, filled, false) != filled)
            return -1;
    }
}

int cg_buckets_run(cg_tensor *const *tensors, int count, size_t bucket_bytes,
                   cg_bucket_exchange exchange, void *userdata) {
    /* No larger than the elements need, and room for one element of any dtype. */
    size_t total_bytes = 0;
    for (int i = 0; i < count; i++)
        total_bytes += (size_t)cg_numel(tensors[i]) * cg_dtype_size(tensors[i]->dtype);
    const size_t buffer_bytes = total_bytes < bucket_bytes ? total_bytes : bucket_bytes;
    char *buffer = malloc(buffer_bytes + sizeof(int64_t));
    if (!buffer) {
        cg_error_set("distributed: out of memory for a bucket of %zu bytes", buffer_bytes);
        return -1;
    }
    int status = 0;
    for (int dtype = 0; status == 0 && dtype < CG_DTYPE_COUNT; dtype++) {
        const size_t element_size = cg_dtype_size((cg_dtype)dtype);
        const int64_t capacity =
            bucket_bytes >= element_size ? (int64_t)(bucket_bytes / element_size) : 1;
        status = run_dtype(tensors, count, (cg_dtype)dtype, buffer, capacity, exchange, userdata);
    }
    free(buffer);
    return status;
}
