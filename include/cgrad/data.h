/* cgrad data sets: reading tabular data, splitting it into training and test parts, and
 * standardising features. Included by cgrad.h; the conventions written there apply here too. */
#ifndef CGRAD_DATA_H
#define CGRAD_DATA_H

#include "cgrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Data sets
 * ------------------------------------------------------------------------------------------- */

/* N samples: features (N x F float32, contiguous, on the CPU) and optional labels, either N int64
 * class indices (with the class names) or N float32 target values. */
typedef struct cg_dataset cg_dataset;

/* The features, N x F float32. Borrowed: the data set owns it (do not release it). */
cg_tensor *cg_dataset_features(const cg_dataset *dataset);
/* The labels: N int64 class indices in [0, class_count) when the data set has classes, N float32
 * values otherwise; NULL when it has no labels. Borrowed like the features. */
cg_tensor *cg_dataset_labels(const cg_dataset *dataset);
/* N, the number of samples (0 for NULL). */
int64_t cg_dataset_size(const cg_dataset *dataset);
/* F, the number of features per sample (0 for NULL). */
int64_t cg_dataset_feature_count(const cg_dataset *dataset);
/* The number of classes; 0 when the labels are numeric values or absent. */
int64_t cg_dataset_class_count(const cg_dataset *dataset);
/* The name of class index (in order of first appearance in the file); NULL with an error when
 * out of range. Owned by the data set. */
const char *cg_dataset_class_name(const cg_dataset *dataset, int64_t index);
/* The name of feature column index (the header's name, or "column_K" for the K-th column of a
 * CSV file without header); NULL with an error when out of range or the data set has no feature
 * names. Owned by the data set. */
const char *cg_dataset_feature_name(const cg_dataset *dataset, int64_t index);
/* Frees the data set with its tensors and names; NULL is ignored. */
void cg_dataset_free(cg_dataset *dataset);

/* Splits the samples at random into two new data sets the caller frees: round(test_fraction * N)
 * samples for test, the rest for train (both in shuffled order). The same seed gives the same
 * split; the thread's generator is not used. stratified keeps each class's share
 * (round(test_fraction * class size) per class; needs class labels). 0 on success; -1 with an
 * error and both outputs NULL when test_fraction is not in (0, 1) or a part would be empty. */
int cg_dataset_split(const cg_dataset *dataset, double test_fraction, bool stratified,
                     uint64_t seed, cg_dataset **train, cg_dataset **test);

/* ---------------------------------------------------------------------------------------------
 * Reading CSV files
 * ------------------------------------------------------------------------------------------- */

/* label_index values with a special meaning. */
#define CG_CSV_LAST_COLUMN (-1)
#define CG_CSV_NO_LABEL (-2)

typedef struct cg_csv_options {
    char delimiter;           /* field separator, ',' by default */
    bool has_header;          /* the first record names the columns (true by default) */
    const char *label_column; /* the label column by header name; takes precedence when set */
    int label_index;          /* the label column by 0-based index, CG_CSV_LAST_COLUMN (default)
                                 or CG_CSV_NO_LABEL for a file of features only */
} cg_csv_options;

/* ',' as delimiter, a header, the last column as label. */
cg_csv_options cg_csv_default_options(void);

/* Reads a CSV file (RFC 4180 quoting, LF or CRLF line ends, blank lines skipped) into a new data
 * set the caller frees with cg_dataset_free. Every column but the label is a feature and must
 * hold numbers (surrounding spaces allowed). The label column gives float32 values when every cell
 * is a number and int64 class indices otherwise (class names in order of first appearance;
 * unquoted names are trimmed). options NULL means the defaults. NULL with an error naming the
 * file, line and column on malformed input. */
cg_dataset *cg_csv_read(const char *path, const cg_csv_options *options);

/* ---------------------------------------------------------------------------------------------
 * Feature standardisation
 * ------------------------------------------------------------------------------------------- */

/* Per-feature mean and standard deviation learned from one data set (usually the training part)
 * and applied to others, so that test data is scaled with the training statistics. */
typedef struct cg_standardizer cg_standardizer;

/* Learns each feature's mean and population standard deviation (a constant feature gets 1, so
 * applying it leaves the feature centred, not infinite). The caller frees the result with
 * cg_standardizer_free; NULL with an error for an empty or NULL data set. */
cg_standardizer *cg_standardizer_fit(const cg_dataset *dataset);
/* Replaces every feature x of dataset by (x - mean) / std, in place. 0 on success; -1 with an
 * error when the feature counts differ. */
int cg_standardizer_apply(const cg_standardizer *standardizer, cg_dataset *dataset);
/* The number of features, and the learned means and standard deviations (arrays of that many
 * values, owned by the standardizer). */
int64_t cg_standardizer_feature_count(const cg_standardizer *standardizer);
const double *cg_standardizer_mean(const cg_standardizer *standardizer);
const double *cg_standardizer_std(const cg_standardizer *standardizer);
/* Frees the standardizer; NULL is ignored. */
void cg_standardizer_free(cg_standardizer *standardizer);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_DATA_H */
