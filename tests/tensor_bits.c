#include "tensor_bits.h"

#include <stdlib.h>
#include <string.h>

/* The elements of t in row-major order (malloc'd, at least one byte), or NULL. */
static unsigned char *bytes_of(const cg_tensor *t, size_t size) {
    unsigned char *bytes = malloc(size ? size : 1);
    if (bytes && cg_copy_to_array(t, bytes, size) != 0) {
        free(bytes);
        return NULL;
    }
    return bytes;
}

bool tensors_identical(const cg_tensor *a, const cg_tensor *b) {
    if (!a || !b || cg_tensor_dtype(a) != cg_tensor_dtype(b)) return false;
    const cg_shape sa = cg_tensor_shape(a), sb = cg_tensor_shape(b);
    if (sa.ndim != sb.ndim || memcmp(sa.dims, sb.dims, sizeof(int64_t) * (size_t)sa.ndim) != 0)
        return false;
    const size_t size = (size_t)cg_numel(a) * cg_dtype_size(cg_tensor_dtype(a));
    unsigned char *bytes_a = bytes_of(a, size), *bytes_b = bytes_of(b, size);
    const bool same = bytes_a && bytes_b && memcmp(bytes_a, bytes_b, size) == 0;
    free(bytes_a);
    free(bytes_b);
    return same;
}
