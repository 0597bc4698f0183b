/* What the rest of the library sees of the CUDA backend: its kernel table, and the GPU queries
 * behind the public API (include/cgrad.h, "Devices"). Built only with CG_HAVE_CUDA. */
#ifndef CG_BACKEND_CUDA_BACKEND_H
#define CG_BACKEND_CUDA_BACKEND_H

#include "backend/backend.h"

/* The CUDA table with GPU index made current on the calling thread; NULL with an error
 * ("cuda:1 is not available: <reason>") when there is no such GPU. */
const cg_backend *cg_cuda_backend_get(int index);

/* The number of usable GPUs; 0 with an error saying why when there is none. */
int cg_cuda_count_devices(void);

/* The caching allocator of GPU index: its statistics, a reset of its peak to the live bytes, and
 * the release of its cached blocks. 0, or -1 with an error. */
int cg_cuda_allocator_stats(int index, cg_memory_stats *stats);
int cg_cuda_allocator_reset_peak(int index);
int cg_cuda_allocator_release_cached(int index);

#endif
