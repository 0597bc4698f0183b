/* Reading and writing safetensors files: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw little-endian data. Tensors
 * of dtype F32, F64, I32, I64 and U8 map to cgrad's five dtypes; string metadata sits under the
 * header's "__metadata__" key. Errors name the file, and the tensor or field at fault. */
#ifndef CG_IO_SAFETENSORS_H
#define CG_IO_SAFETENSORS_H

#include <stddef.h>

#include "cgrad.h"
#include "io/json.h"

/* The largest header accepted, as in the reference implementation: a bound on what a corrupt
 * length field can make the reader allocate. */
#define CG_SAFETENSORS_MAX_HEADER 100000000u

typedef struct {
    const char *name;
    cg_tensor *tensor;
} cg_safetensors_entry;

typedef struct {
    const char *key, *value;
} cg_safetensors_metadata;

/* Writes the tensors (CPU, any layout; names unique, not "__metadata__") and the metadata (keys
 * unique) to path atomically: the data goes to "<path>.tmp.<pid>" in the same directory, which is
 * flushed to disk and renamed over path; the directory is synced after. On failure the
 * temporary file is removed and an existing file at path is left as it was. 0 or -1. */
int cg_safetensors_write(const char *path, const cg_safetensors_entry *tensors, size_t tensor_count,
                         const cg_safetensors_metadata *metadata, size_t metadata_count);

/* A file's contents. Every string points into header, which the contents own. */
typedef struct {
    cg_safetensors_entry *tensors; /* in the order of their data; tensors owned, in no scope */
    size_t tensor_count;
    cg_safetensors_metadata *metadata; /* in header order */
    size_t metadata_count;
    cg_json_document header;
} cg_safetensors_contents;

/* Reads and fully validates a file; NULL with an error naming the file and the problem. */
cg_safetensors_contents *cg_safetensors_read(const char *path);
void cg_safetensors_contents_free(cg_safetensors_contents *contents);
/* The tensor (borrowed) or metadata value with the given name, or NULL. */
cg_tensor *cg_safetensors_find(const cg_safetensors_contents *contents, const char *name);
const char *cg_safetensors_find_metadata(const cg_safetensors_contents *contents, const char *key);

#endif
