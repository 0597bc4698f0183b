/* Small training problems shared by the fit and callback tests: generated data and tiny models,
 * so that each training run takes a fraction of a second. */
#ifndef CG_TEST_FIT_PROBLEMS_H
#define CG_TEST_FIT_PROBLEMS_H

#include <stdio.h>

#include "cgrad.h"

/* Samples and their labels or targets; both owned (release with labelled_data_release). */
typedef struct {
    cg_tensor *x, *y;
} labelled_data;

/* count samples of two well-separated Gaussian blobs in 2-D: x (count, 2) float32 around (-1.5,
 * -1.5) and (1.5, 1.5), y (count) int64 labels alternating 0, 1. Drawn from seed. */
labelled_data two_blobs(int64_t count, uint64_t seed);
void labelled_data_release(labelled_data *data);

/* A built 2-8-2 relu classifier for two_blobs (dropout 0.2 after the hidden layer when asked),
 * compiled with SGD at learning_rate, cross-entropy and accuracy. NULL on failure. */
cg_model *blob_classifier(double learning_rate, bool with_dropout);

/* Copies of a model's parameters, in order. */
typedef struct {
    cg_tensor **items;
    int count;
} parameter_copies;

parameter_copies copy_parameters(const cg_model *model);
void parameter_copies_release(parameter_copies *copies);
/* Whether every parameter of model equals its copy exactly. */
bool parameters_equal(const cg_model *model, const parameter_copies *copies);
/* Sets the model's parameters to the copies. */
void load_parameters(cg_model *model, const parameter_copies *copies);

/* Everything written to file so far, as a NUL-terminated string (malloc'd; the caller frees). */
char *file_text(FILE *file);

#endif
