/* The data set behind the opaque cg_dataset handle, shared by every reader (CSV, IDX, ...). */
#ifndef CG_IO_DATASET_H
#define CG_IO_DATASET_H

#include "cgrad.h"

struct cg_dataset {
    /* (N, sample shape...) float32, or uint8 for images; contiguous, on the CPU, owned (no scope
     * holds it). Batches carry feature_scale * features as float32, so that images stay bytes in
     * memory (1 for float32 features). */
    cg_tensor *features;
    double feature_scale;
    cg_tensor *labels;    /* N int64 classes or N float32 values, owned like features; or NULL */
    char **feature_names; /* F names, or NULL when the source has none */
    char **class_names;   /* class_count names; NULL when class_count is 0 */
    int64_t class_count;
};

/* A data set taking ownership of every argument: the tensors (taken out of any scope) and the
 * malloc'd name arrays with their malloc'd strings; its feature_scale is 1. features must not be
 * NULL. On failure it frees them all and returns NULL with an error. */
cg_dataset *cg_dataset_new(cg_tensor *features, cg_tensor *labels, char **feature_names,
                           int64_t class_count, char **class_names);

/* A malloc'd copy of text (length bytes, NUL-terminated); NULL with an error when out of memory. */
char *cg_string_copy(const char *text, size_t length);
/* Frees count malloc'd strings and the array holding them; NULL is ignored. */
void cg_string_array_free(char **strings, int64_t count);

/* Reports an error and returns false for a NULL path or a delimiter that cannot separate fields
 * (a quote, a line end or NUL). Shared by the CSV readers. */
bool cg_csv_check_options(const char *path, const cg_csv_options *options);

#endif
