/* Helpers of the CPU kernels that slide a 2-D window (convolution and pooling). */
#ifndef CG_BACKEND_CPU_WINDOW_H
#define CG_BACKEND_CPU_WINDOW_H

#include <stdint.h>

/* The outputs [*first, *last) of a line of count outputs whose input index
 * output * stride + offset lies inside [0, size): the ones that read no padding. Stride 1, the
 * common case, needs no division (the unfolding of a convolution asks for every tap). */
static inline void cg_cpu_inside_range(int64_t count, int64_t stride, int64_t offset, int64_t size,
                                       int64_t *first, int64_t *last) {
    const int64_t low = offset >= 0 ? 0 : stride == 1 ? -offset : (-offset + stride - 1) / stride;
    int64_t high = size - offset <= 0 ? 0
                   : stride == 1      ? size - offset
                                      : (size - 1 - offset) / stride + 1;
    if (high > count) high = count;
    *first = low < high ? low : high;
    *last = high;
}

#endif
