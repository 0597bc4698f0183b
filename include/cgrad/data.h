/* cgrad data sets: reading tabular data and images (CSV, IDX), finding data files, splitting
 * data into training and test parts, standardising features, and a loader that assembles shuffled
 * batches on a background thread. Included by cgrad.h; the conventions written there apply here
 * too. */
#ifndef CGRAD_DATA_H
#define CGRAD_DATA_H

#include "cgrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Data sets
 * ------------------------------------------------------------------------------------------- */

/* N samples: features (N, then the sample shape; contiguous, on the CPU) and optional labels,
 * either N int64 class indices (with the class names) or N float32 target values. Features are
 * float32 (CSV: N x F), or uint8 for images (IDX: N x 1 x H x W), which batches turn into float32
 * times the data set's feature scale, so that images cost a byte per pixel in memory. */
typedef struct cg_dataset cg_dataset;

/* The features as stored: float32, or uint8 for images (multiply by cg_dataset_feature_scale to
 * get the values a model sees). Borrowed: the data set owns it (do not release it). */
cg_tensor *cg_dataset_features(const cg_dataset *dataset);
/* The factor batches apply to the stored features: 1 for float32 features, 1/255 for IDX images
 * (pixels in [0, 1]); 0 for NULL. */
double cg_dataset_feature_scale(const cg_dataset *dataset);
/* The shape of one sample: (F) for CSV rows, (1, H, W) for IDX images; no dims for NULL. */
cg_shape cg_dataset_sample_shape(const cg_dataset *dataset);
/* The labels: N int64 class indices in [0, class_count) when the data set has classes, N float32
 * values otherwise; NULL when it has no labels. Borrowed like the features. */
cg_tensor *cg_dataset_labels(const cg_dataset *dataset);
/* N, the number of samples (0 for NULL). */
int64_t cg_dataset_size(const cg_dataset *dataset);
/* F, the number of features per sample, the product of the sample shape (0 for NULL). */
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

/* A list of names (columns, classes): count malloc'd strings. */
typedef struct {
    int64_t count;
    char **names;
} cg_name_list;

/* Frees the names and leaves the list empty; NULL is ignored. */
void cg_name_list_free(cg_name_list *list);

/* The column names of a CSV file without reading its rows: the fields of its first record (quoted
 * as cg_csv_read reads them), or "column_1", "column_2", ... when options->has_header is false.
 * Only the delimiter and has_header of options are used (NULL: the defaults). 0, or -1 with an
 * error naming the file (an empty file, an unterminated quote) and *columns empty. */
int cg_csv_read_header(const char *path, const cg_csv_options *options, cg_name_list *columns);

/* ---------------------------------------------------------------------------------------------
 * Reading IDX files (the MNIST format) and finding data files
 * ------------------------------------------------------------------------------------------- */

/* Reads an IDX features file and its labels file, each raw or gzip-compressed (told apart by
 * content, not name), into a new data set the caller frees with cg_dataset_free. Images (magic
 * 0x00000803: N x H x W unsigned bytes) stay uint8, as N x 1 x H x W features with feature scale
 * 1/255; other unsigned-byte files of 1 to 4 dims keep their dims ((N) becomes N x 1). Labels
 * (magic 0x00000801: N bytes) become int64 class indices, with class names "0", "1", ... up to
 * the largest label. labels_path NULL gives a data set without labels. NULL with an error naming
 * the file for: a truncated file, a wrong magic number or dtype code, sizes that disagree with
 * the file or with the other file, a corrupt or cut gzip stream, and bytes after the data. */
cg_dataset *cg_idx_read(const char *images_path, const char *labels_path);

/* Finds a data file in a directory: explicit_dir when not NULL (a --data DIR argument), else
 * $CGRAD_DATA when set, else "data"; the file may be there as file_name or file_name.gz. Writes
 * the path found into path (size bytes). 0 on success; -1 with an error saying where it looked
 * (and, for an IDX file, the command that downloads MNIST there: scripts/download-mnist.sh DIR),
 * or that the path does not fit in size bytes. */
int cg_data_path(const char *file_name, const char *explicit_dir, char *path, size_t size);

/* Reads the MNIST split "train" (60,000 images) or "t10k" (10,000) from its standard file names
 * (train-images-idx3-ubyte[.gz], ...), found with cg_data_path in dir (NULL: $CGRAD_DATA, else
 * "data"). Fashion-MNIST uses the same names. NULL with an error otherwise. */
cg_dataset *cg_mnist_read(const char *dir, const char *split);

/* ---------------------------------------------------------------------------------------------
 * Batches assembled on a background thread
 * ------------------------------------------------------------------------------------------- */

/* Cuts a data set into batches in a seeded order, assembling the next batch on a thread of its
 * own while the caller works on the current one (double buffering), converting image bytes to
 * float32 as it gathers them. Thread safety: a loader is driven by one thread at a time; the data
 * set is only read, by any number of loaders, and must outlive them unchanged. */
typedef struct cg_loader cg_loader;

/* A loader of batch_size samples per batch over dataset (borrowed). With shuffle, each epoch's
 * order is a permutation drawn from (seed, epoch) alone, the one cg_fit uses, so a resumed run
 * sees the same batches; without, the data set's order. The caller frees it with
 * cg_loader_free. NULL with an error for a NULL or empty data set, batch_size < 1, features
 * neither float32 nor uint8, or a thread that cannot start. */
cg_loader *cg_loader_new(const cg_dataset *dataset, int batch_size, bool shuffle, uint64_t seed);
/* Starts epoch (>= 0): fixes its order and starts assembling its first batch. Batches left from
 * the previous epoch are dropped. 0, or -1 with an error. */
int cg_loader_start_epoch(cg_loader *loader, int epoch);
/* The next batch of the epoch: *x float32 (count, sample shape...) = the features times the data
 * set's feature scale, *y the labels of the same samples (NULL when the data set has none); the
 * last batch may hold fewer samples. Both are new tensors, owned like an op's result (by the
 * current scope, or the caller). 1 with a batch, 0 when the epoch is done or none was started,
 * -1 with an error (*x and *y NULL). */
int cg_loader_next(cg_loader *loader, cg_tensor **x, cg_tensor **y);

/* How the background thread kept up with cg_loader_next. */
typedef struct {
    int64_t batches_assembled; /* by the thread, since the loader was made */
    int64_t batches_ready;     /* found assembled when cg_loader_next asked for them */
    int64_t batches_waited;    /* cg_loader_next had to wait for */
    double wait_seconds;       /* spent waiting in cg_loader_next */
} cg_loader_stats;
/* The counts so far (all zero for NULL). */
cg_loader_stats cg_loader_get_stats(const cg_loader *loader);
/* Stops the thread and frees the loader and any batch it holds (not the data set). NULL is
 * ignored. */
void cg_loader_free(cg_loader *loader);

/* ---------------------------------------------------------------------------------------------
 * Feature standardisation
 * ------------------------------------------------------------------------------------------- */

/* Per-feature mean and standard deviation learned from one data set (usually the training part)
 * and applied to others, so that test data is scaled with the training statistics. */
typedef struct cg_standardizer cg_standardizer;

/* Learns each feature's mean and population standard deviation (a constant feature gets 1, so
 * applying it leaves the feature centred, not infinite). The caller frees the result with
 * cg_standardizer_free; NULL with an error for an empty or NULL data set, or uint8 features
 * (images stay bytes; their feature scale already brings them to [0, 1]). */
cg_standardizer *cg_standardizer_fit(const cg_dataset *dataset);
/* Min-max scaling through the same object: learns each feature's minimum (reported as "mean")
 * and range (reported as "std"), so that applying it maps the fitted data onto [0, 1]; a constant
 * feature gets range 1. Saved with a model like a standardizer. Errors as cg_standardizer_fit. */
cg_standardizer *cg_min_max_scaler_fit(const cg_dataset *dataset);
/* Replaces every feature x of dataset by (x - mean) / std, in place. 0 on success; -1 with an
 * error when the feature counts differ or the features are uint8. */
int cg_standardizer_apply(const cg_standardizer *standardizer, cg_dataset *dataset);
/* The number of features, and the learned means and standard deviations (arrays of that many
 * values, owned by the standardizer). */
int64_t cg_standardizer_feature_count(const cg_standardizer *standardizer);
const double *cg_standardizer_mean(const cg_standardizer *standardizer);
const double *cg_standardizer_std(const cg_standardizer *standardizer);
/* A standardizer with given statistics (copied) for feature_count features, e.g. ones saved with a
 * model. NULL with an error unless feature_count > 0, every mean is finite and every std is
 * positive and finite. */
cg_standardizer *cg_standardizer_new(int64_t feature_count, const double *mean, const double *std);
/* Frees the standardizer; NULL is ignored. */
void cg_standardizer_free(cg_standardizer *standardizer);

/* ---------------------------------------------------------------------------------------------
 * Labels
 * ------------------------------------------------------------------------------------------- */

/* Turns numeric labels into class labels: each distinct value becomes a class, in increasing
 * order, named by the value as "%g" writes it ("0", "1", "2.5"), so that digits 0-9 become
 * classes 0-9. A data set that already has classes is left as it is. 0, or -1 with an error when
 * dataset has no labels. */
int cg_dataset_labels_to_classes(cg_dataset *dataset);

/* ---------------------------------------------------------------------------------------------
 * What a model remembers of its training data
 *
 * Recorded in the model's metadata, so that cg_model_save keeps it: the input column names, the
 * label column, the class names and the standardisation statistics. A saved model can then read
 * new files the way its training data was read (cg_model_prepare_data).
 * ------------------------------------------------------------------------------------------- */

typedef struct cg_model cg_model;

/* Records the feature and class names of dataset (those it has), label_column (NULL: none) and
 * the statistics of standardizer (NULL: none) in model's metadata, replacing an earlier record.
 * 0, or -1 with an error. */
int cg_model_record_data(cg_model *model, const cg_dataset *dataset, const char *label_column,
                         const cg_standardizer *standardizer);
/* The recorded feature (input column) names or class names into *list (empty when none were
 * recorded; the caller frees it with cg_name_list_free). 0, or -1 with an error for malformed
 * metadata. */
int cg_model_feature_names(const cg_model *model, cg_name_list *list);
int cg_model_class_names(const cg_model *model, cg_name_list *list);
/* The recorded label column name (owned by the model), or NULL. */
const char *cg_model_label_column(const cg_model *model);
/* A new standardizer with the recorded statistics into *standardizer (NULL when none were
 * recorded; the caller frees it). 0, or -1 with an error for malformed metadata. */
int cg_model_standardizer(const cg_model *model, cg_standardizer **standardizer);
/* The model's view of dataset, as a new data set the caller frees: the recorded feature columns
 * in their recorded order (picked by name when both sides have names, other columns left out;
 * otherwise the feature counts must agree), class labels renumbered to the recorded classes
 * (numeric labels matched by their "%g" text) and the features standardised with the recorded
 * statistics. NULL with an error naming a missing column or a class the model does not know. */
cg_dataset *cg_model_prepare_data(const cg_model *model, const cg_dataset *dataset);
/* The same without labels, for prediction: labels the data may have are left out unread (they
 * may hold classes the model does not know). */
cg_dataset *cg_model_prepare_inputs(const cg_model *model, const cg_dataset *dataset);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_DATA_H */
