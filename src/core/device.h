/* Devices inside the library: moving bytes between a storage and host memory whatever its device,
 * and moving a tensor's storage to another device in place. */
#ifndef CG_CORE_DEVICE_H
#define CG_CORE_DEVICE_H

#include <stddef.h>

#include "core/tensor.h"

/* Copies nbytes from byte offset of storage (on any device) to host memory dst, or from host
 * memory src into it. 0, or -1 with an error. */
int cg_storage_read(const cg_storage *storage, size_t offset, void *dst, size_t nbytes);
int cg_storage_write(cg_storage *storage, size_t offset, const void *src, size_t nbytes);

/* Gives t a contiguous copy of its elements on device in place of its storage, so every pointer
 * to t stays valid (views of the old storage keep the old data), and drops t's gradient. 0, or
 * -1 with an error (t unchanged). */
int cg_tensor_move_(cg_tensor *t, cg_device device);

#endif
