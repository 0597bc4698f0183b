/* The caching allocator: every tensor buffer, tensor header and graph node comes from here, so a
 * steady-state training step reuses blocks instead of calling the system allocator. */
#ifndef CG_CORE_ALLOC_H
#define CG_CORE_ALLOC_H

#include <stddef.h>

/* A block of at least size bytes, 64-byte aligned; NULL with an error when out of memory. */
void *cg_alloc(size_t size);
/* Same, zero-filled. */
void *cg_alloc_zeroed(size_t size);
/* Returns a block from cg_alloc of the given size to the cache. NULL is ignored. */
void cg_free(void *block, size_t size);

/* Caps what this thread may take from now on at limit bytes, net of what it gives back (SIZE_MAX:
 * no cap); an allocation past it fails with an error. Loaders set it so that a file can make them
 * allocate only what its size justifies. Returns the previous cap. */
size_t cg_alloc_limit_thread(size_t limit);

/* Makes the n-th system allocation from now on fail (1 = the next one); 0 turns it off. Used by
 * tests to prove that allocation failure travels up as an error. */
void cg_alloc_fail_after(long n);

#endif
