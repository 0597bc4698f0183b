/* IDX files: images and labels read back exactly from raw and gzip files (told apart by content),
 * every kind of malformed file rejected with an error naming it, finding data files, and the real
 * MNIST test set when $CGRAD_DATA points at it. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "temp_dir.h"
#include "test.h"

enum { IMAGES = 5, ROWS = 3, COLUMNS = 4, PIXELS = IMAGES * ROWS * COLUMNS };

/* An IDX file in memory: the magic number's dtype code and dims, then the data. */
typedef struct {
    unsigned char bytes[4096];
    size_t size;
} idx_bytes;

static idx_bytes idx_file_bytes(int dtype_code, int ndim, const uint32_t *dims,
                                const unsigned char *data, size_t data_size) {
    idx_bytes file = {.bytes = {0, 0, (unsigned char)dtype_code, (unsigned char)ndim}, .size = 4};
    for (int k = 0; k < ndim; k++) {
        for (int shift = 24; shift >= 0; shift -= 8)
            file.bytes[file.size++] = (unsigned char)(dims[k] >> shift);
    }
    if (data_size) memcpy(file.bytes + file.size, data, data_size);
    file.size += data_size;
    return file;
}

/* Pixels with values all over 0..255, so that a signed or shifted read shows. */
static void image_pixels(unsigned char *pixels) {
    for (int i = 0; i < PIXELS; i++)
        pixels[i] = (unsigned char)(i * 37 + 11);
}

static const unsigned char LABELS[IMAGES] = {3, 0, 7, 3, 1};

static idx_bytes images_file(void) {
    unsigned char pixels[PIXELS];
    image_pixels(pixels);
    return idx_file_bytes(0x08, 3, (const uint32_t[]){IMAGES, ROWS, COLUMNS}, pixels, PIXELS);
}

static idx_bytes labels_file(int count) {
    return idx_file_bytes(0x08, 1, (const uint32_t[]){(uint32_t)count}, LABELS, (size_t)count);
}

/* Writes size bytes gzip-compressed; false when it cannot. */
static bool write_gzip(const char *path, const void *data, size_t size) {
    gzFile file = gzopen(path, "wb");
    if (!file) return false;
    const bool written = size == 0 || gzwrite(file, data, (unsigned)size) == (int)size;
    return gzclose(file) == Z_OK && written;
}

static bool write_idx(const char *path, const idx_bytes *file, bool compressed) {
    return compressed ? write_gzip(path, file->bytes, file->size)
                      : write_file(path, file->bytes, file->size);
}

/* Checks that dataset holds exactly the images and labels of images_file and labels_file. */
static bool dataset_matches(const cg_dataset *dataset, const char *what) {
    unsigned char want[PIXELS], got[PIXELS];
    int64_t labels[IMAGES];
    image_pixels(want);
    const cg_tensor *features = cg_dataset_features(dataset);
    const cg_shape sample = cg_dataset_sample_shape(dataset);
    const bool shaped = features && cg_tensor_dtype(features) == CG_UINT8 &&
                        cg_ndim(features) == 4 && cg_dim(features, 0) == IMAGES &&
                        sample.ndim == 3 && sample.dims[0] == 1 && sample.dims[1] == ROWS &&
                        sample.dims[2] == COLUMNS &&
                        cg_dataset_feature_count(dataset) == ROWS * COLUMNS;
    const bool same = shaped && cg_copy_to_array(features, got, sizeof got) == 0 &&
                      memcmp(got, want, sizeof got) == 0 &&
                      cg_tensor_dtype(cg_dataset_labels(dataset)) == CG_INT64 &&
                      cg_copy_to_array(cg_dataset_labels(dataset), labels, sizeof labels) == 0;
    for (int i = 0; same && i < IMAGES; i++)
        if (labels[i] != LABELS[i]) {
            test_fail(__FILE__, __LINE__, "%s: label %d is %lld, expected %d", what, i,
                      (long long)labels[i], LABELS[i]);
            return false;
        }
    if (!same)
        test_fail(__FILE__, __LINE__, "%s: features or labels differ (%s)", what, cg_last_error());
    return same;
}

TEST(idx_reads_raw_and_gzip_files_exactly_whatever_their_names) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const idx_bytes images = images_file(), labels = labels_file(IMAGES);
    /* Compressed content under a plain name and raw content under a .gz name. */
    const char *raw_images = temp_dir_file(&dir, "images-idx3-ubyte.gz");
    const char *gzip_images = temp_dir_file(&dir, "images-idx3-ubyte");
    const char *raw_labels = temp_dir_file(&dir, "labels-raw");
    const char *gzip_labels = temp_dir_file(&dir, "labels-gz");
    const bool written =
        write_idx(raw_images, &images, false) && write_idx(gzip_images, &images, true) &&
        write_idx(raw_labels, &labels, false) && write_idx(gzip_labels, &labels, true);
    cg_dataset *from_raw = written ? cg_idx_read(raw_images, gzip_labels) : NULL;
    cg_dataset *from_gzip = written ? cg_idx_read(gzip_images, raw_labels) : NULL;
    const bool raw_ok = from_raw && dataset_matches(from_raw, "raw images");
    const bool gzip_ok = from_gzip && dataset_matches(from_gzip, "gzip images");
    const bool classes_ok = from_raw && cg_dataset_class_count(from_raw) == 8 &&
                            strcmp(cg_dataset_class_name(from_raw, 0), "0") == 0 &&
                            strcmp(cg_dataset_class_name(from_raw, 7), "7") == 0;
    const double scale = cg_dataset_feature_scale(from_raw);
    cg_dataset_free(from_raw);
    cg_dataset_free(from_gzip);
    temp_dir_remove(&dir);
    CHECK(written);
    CHECK(raw_ok && gzip_ok);
    CHECK(classes_ok);
    CHECK_NEAR(scale, 1.0 / 255.0, 0);
}

TEST(idx_reads_other_feature_files_and_files_without_labels) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const unsigned char values[24] = {0,  1,  2,  250, 251, 252, 7,  8,  9,  10, 11, 12,
                                      13, 14, 15, 16,  17,  18,  19, 20, 21, 22, 23, 255};
    const idx_bytes single = idx_file_bytes(0x08, 1, (const uint32_t[]){6}, values, 6);
    const idx_bytes rows = idx_file_bytes(0x08, 2, (const uint32_t[]){4, 6}, values, 24);
    const idx_bytes volumes = idx_file_bytes(0x08, 4, (const uint32_t[]){2, 2, 3, 2}, values, 24);
    const char *single_path = temp_dir_file(&dir, "single");
    const char *rows_path = temp_dir_file(&dir, "rows");
    const char *volumes_path = temp_dir_file(&dir, "volumes");
    const bool written = write_idx(single_path, &single, false) &&
                         write_idx(rows_path, &rows, true) &&
                         write_idx(volumes_path, &volumes, false);
    cg_dataset *a = written ? cg_idx_read(single_path, NULL) : NULL;
    cg_dataset *b = written ? cg_idx_read(rows_path, NULL) : NULL;
    cg_dataset *c = written ? cg_idx_read(volumes_path, NULL) : NULL;
    const cg_shape sa = cg_dataset_sample_shape(a), sb = cg_dataset_sample_shape(b),
                   sc = cg_dataset_sample_shape(c);
    unsigned char got[24] = {0};
    const bool same = c && cg_copy_to_array(cg_dataset_features(c), got, sizeof got) == 0 &&
                      memcmp(got, values, sizeof got) == 0;
    const bool unlabelled = a && !cg_dataset_labels(a) && cg_dataset_class_count(a) == 0;
    const double last = b ? cg_get(cg_dataset_features(b), (const int64_t[]){3, 5}) : NAN;
    cg_dataset_free(a);
    cg_dataset_free(b);
    cg_dataset_free(c);
    temp_dir_remove(&dir);
    CHECK(written && a && b && c);
    CHECK(sa.ndim == 1 && sa.dims[0] == 1);
    CHECK(sb.ndim == 1 && sb.dims[0] == 6);
    CHECK(sc.ndim == 3 && sc.dims[0] == 2 && sc.dims[1] == 3 && sc.dims[2] == 2);
    CHECK(same && unlabelled);
    CHECK_NEAR(last, 255, 0);
}

/* Writes bytes under name in dir (gzip-compressed when asked) and checks that reading it as the
 * images (or, with images given, as labels for them) fails with an error naming the file and
 * containing text. */
static bool rejects(const temp_dir *dir, const char *name, const void *bytes, size_t size,
                    bool compressed, const char *images, const char *text, int line) {
    char path[512];
    snprintf(path, sizeof path, "%s", temp_dir_file(dir, name));
    const bool written = compressed ? write_gzip(path, bytes, size) : write_file(path, bytes, size);
    cg_clear_error();
    cg_dataset *dataset =
        written ? (images ? cg_idx_read(images, path) : cg_idx_read(path, NULL)) : NULL;
    const char *message = cg_last_error();
    const bool ok = written && !dataset && strstr(message, path) && strstr(message, text);
    if (!ok)
        test_fail(__FILE__, line, "%s: %s (error: \"%s\", expected the path and \"%s\")", name,
                  dataset ? "read without an error" : "wrong error", message, text);
    cg_dataset_free(dataset);
    return ok;
}

#define CHECK_REJECTS(name, file, compressed, images, text)                                        \
    do {                                                                                           \
        if (!rejects(&dir, (name), (file).bytes, (file).size, (compressed), (images), (text),      \
                     __LINE__)) {                                                                  \
            temp_dir_remove(&dir);                                                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

TEST(idx_rejects_malformed_files_naming_them) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const idx_bytes images = images_file();
    const char *images_path = temp_dir_file(&dir, "good-images");
    CHECK(write_idx(images_path, &images, false));
    idx_bytes file = images;

    file.size = 0;
    CHECK_REJECTS("empty", file, false, NULL, "shorter than the 4-byte magic number");
    file.size = 10;
    CHECK_REJECTS("short-header", file, false, NULL, "truncated header");
    CHECK_REJECTS("short-header.gz", file, true, NULL, "truncated header");
    file.size = images.size - 1;
    CHECK_REJECTS("short-data", file, false, NULL,
                  "declares 5 x 3 x 4 = 60 bytes of data, the file holds 59");
    CHECK_REJECTS("short-data.gz", file, true, NULL, "the decompressed data holds 59");
    file.size = images.size + 3;
    CHECK_REJECTS("trailing", file, false, NULL, "3 bytes of trailing data");
    CHECK_REJECTS("trailing.gz", file, true, NULL, "trailing data");

    file = images;
    file.bytes[1] = 0x42;
    CHECK_REJECTS("wrong-magic", file, false, NULL, "not an IDX file");
    file = images;
    file.bytes[2] = 0x0D;
    CHECK_REJECTS("floats", file, false, NULL, "dtype code 0x0d (32-bit floats) is not supported");
    file = images;
    file.bytes[3] = 5;
    CHECK_REJECTS("five-dims", file, false, NULL, "features have 1 to 4");
    file.bytes[3] = 0;
    CHECK_REJECTS("no-dims", file, false, NULL, "features have 1 to 4");
    CHECK_REJECTS("labels-as-images", images, false, images_path, "a label file has 1");
    const idx_bytes four_labels = labels_file(4);
    CHECK_REJECTS("four-labels", four_labels, false, images_path, "4 labels for the 5 samples");
    const idx_bytes no_images = idx_file_bytes(0x08, 3, (const uint32_t[]){0, 28, 28}, NULL, 0);
    CHECK_REJECTS("zero-images", no_images, false, NULL, "dim 0 of the header is 0");

    /* Absurd sizes fail before any allocation: 2^39 bytes declared by a file of a few bytes (an
     * allocation of that size would fail with "out of memory" instead), and more than the
     * reader's limit. */
    const idx_bytes huge = idx_file_bytes(0x08, 3, (const uint32_t[]){1u << 19, 1u << 10, 1u << 10},
                                          (const unsigned char[]){1, 2, 3}, 3);
    CHECK_REJECTS("huge", huge, false, NULL, "the file holds 3");
    CHECK_REJECTS("huge.gz", huge, true, NULL, "the decompressed data holds 3");
    const idx_bytes absurd = idx_file_bytes(
        0x08, 4, (const uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, NULL, 0);
    CHECK_REJECTS("absurd", absurd, true, NULL, "declare more than 1099511627776 bytes");

    CHECK_ERROR(cg_idx_read(temp_dir_file(&dir, "missing"), NULL), "cannot open");
    CHECK_ERROR(cg_idx_read(dir.path, NULL), "it is a directory");
    CHECK_ERROR(cg_idx_read(NULL, NULL), "images_path is NULL");
    temp_dir_remove(&dir);
}

/* A gzip file with one byte of its compressed data or trailer changed, or cut short. */
TEST(idx_rejects_damaged_gzip_streams) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const idx_bytes images = images_file();
    const char *good = temp_dir_file(&dir, "good.gz");
    size_t size = 0;
    unsigned char *compressed = write_idx(good, &images, true) ? read_file(good, &size) : NULL;
    CHECK(compressed && size > 30);
    idx_bytes damaged = {.size = size};
    memcpy(damaged.bytes, compressed, size);
    free(compressed);
    damaged.bytes[size - 6] ^= 0xFF; /* in the CRC-32 of the trailer */
    CHECK_REJECTS("bad-crc.gz", damaged, false, NULL, "corrupt compressed data");
    damaged.bytes[size - 6] ^= 0xFF;
    damaged.size = size - 4; /* the trailer's length field missing */
    CHECK_REJECTS("cut.gz", damaged, false, NULL, "cut short");
    damaged.size = size / 2; /* cut inside the data */
    CHECK_REJECTS("half.gz", damaged, false, NULL, "truncated");
    temp_dir_remove(&dir);
}

TEST(idx_data_sets_split_but_refuse_standardisation) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const idx_bytes images = images_file(), labels = labels_file(IMAGES);
    const char *images_path = temp_dir_file(&dir, "images");
    const char *labels_path = temp_dir_file(&dir, "labels");
    cg_dataset *all = write_idx(images_path, &images, true) && write_idx(labels_path, &labels, true)
                          ? cg_idx_read(images_path, labels_path)
                          : NULL;
    cg_dataset *train = NULL, *test = NULL;
    const int split = all ? cg_dataset_split(all, 0.4, false, 3, &train, &test) : -1;
    const bool kept = split == 0 && cg_dataset_size(train) == 3 && cg_dataset_size(test) == 2 &&
                      cg_tensor_dtype(cg_dataset_features(test)) == CG_UINT8 &&
                      cg_dataset_feature_scale(test) == 1.0 / 255.0 &&
                      cg_dataset_sample_shape(train).ndim == 3;
    cg_clear_error();
    cg_standardizer *standardizer = all ? cg_standardizer_fit(all) : NULL;
    const bool refused = all && !standardizer && strstr(cg_last_error(), "uint8");
    cg_standardizer_free(standardizer);
    cg_dataset_free(all);
    cg_dataset_free(train);
    cg_dataset_free(test);
    temp_dir_remove(&dir);
    CHECK(split == 0 && kept);
    CHECK(refused);
}

/* ----- finding data files ----- */

/* Sets $CGRAD_DATA to value (NULL: unset) and returns a malloc'd copy of the previous value. */
static char *swap_data_variable(const char *value) {
    const char *previous = getenv("CGRAD_DATA");
    char *saved = previous ? strdup(previous) : NULL;
    if (value)
        setenv("CGRAD_DATA", value, 1);
    else
        unsetenv("CGRAD_DATA");
    return saved;
}

static void restore_data_variable(char *saved) {
    free(swap_data_variable(saved));
    free(saved);
}

TEST(data_path_looks_in_the_given_directory_then_cgrad_data_then_data) {
    temp_dir given, environment;
    if (!temp_dir_create(&given)) return;
    if (!temp_dir_create(&environment)) {
        temp_dir_remove(&given);
        return;
    }
    const bool written = write_file(temp_dir_file(&given, "both"), "a", 1) &&
                         write_file(temp_dir_file(&given, "both.gz"), "b", 1) &&
                         write_file(temp_dir_file(&given, "compressed.gz"), "c", 1) &&
                         write_file(temp_dir_file(&environment, "compressed.gz"), "d", 1);
    char *saved = swap_data_variable(environment.path);
    char path[512], expected[512];
    const int plain = cg_data_path("both", given.path, path, sizeof path);
    snprintf(expected, sizeof expected, "%s", temp_dir_file(&given, "both"));
    const bool plain_first = plain == 0 && strcmp(path, expected) == 0;
    const int gz = cg_data_path("compressed", given.path, path, sizeof path);
    snprintf(expected, sizeof expected, "%s", temp_dir_file(&given, "compressed.gz"));
    const bool gz_found = gz == 0 && strcmp(path, expected) == 0;
    const int from_variable = cg_data_path("compressed", NULL, path, sizeof path);
    snprintf(expected, sizeof expected, "%s", temp_dir_file(&environment, "compressed.gz"));
    const bool variable_used = from_variable == 0 && strcmp(path, expected) == 0;
    const int too_small = cg_data_path("both", given.path, path, 8);
    const bool fit_error = too_small == -1 && strstr(cg_last_error(), "does not fit");
    /* Misses name the directory and both names; an IDX name also gets the download command. */
    const int missing = cg_data_path("t10k-images-idx3-ubyte", given.path, path, sizeof path);
    char command[600];
    snprintf(command, sizeof command, "scripts/download-mnist.sh %s", given.path);
    const bool explained = missing == -1 && strstr(cg_last_error(), command) &&
                           strstr(cg_last_error(), "t10k-images-idx3-ubyte.gz'");
    const int missing_csv = cg_data_path("iris.csv", given.path, path, sizeof path);
    const bool no_command = missing_csv == -1 && !strstr(cg_last_error(), "download-mnist");
    free(swap_data_variable(NULL));
    const int defaulted = cg_data_path("no-such-file-idx1-ubyte", NULL, path, sizeof path);
    const bool default_named = defaulted == -1 && strstr(cg_last_error(), "'data/no-such-file") &&
                               strstr(cg_last_error(), "scripts/download-mnist.sh data");
    restore_data_variable(saved);
    temp_dir_remove(&given);
    temp_dir_remove(&environment);
    CHECK(written);
    CHECK(plain_first && gz_found && variable_used);
    CHECK(fit_error);
    CHECK(explained && no_command);
    CHECK(default_named);
    CHECK_ERROR(cg_mnist_read(NULL, "validation"), "\"train\" or \"t10k\"");
}

/* ----- the real MNIST test set ----- */

/* The decompressed bytes of a gzip file (malloc'd; the caller frees them), read here with zlib
 * directly so that the reader is checked against an independent read. */
static unsigned char *gunzip_file(const char *path, size_t *size) {
    gzFile file = gzopen(path, "rb");
    size_t capacity = 1 << 20, used = 0;
    unsigned char *bytes = file ? malloc(capacity) : NULL;
    for (int got = 1; bytes && got > 0;) {
        if (used == capacity) {
            unsigned char *grown = realloc(bytes, capacity *= 2);
            if (!grown) free(bytes);
            bytes = grown;
            if (!bytes) break;
        }
        got = gzread(file, bytes + used, (unsigned)(capacity - used));
        if (got > 0) used += (size_t)got;
    }
    if (file) gzclose(file);
    *size = used;
    return bytes;
}

TEST(idx_reads_the_mnist_test_set) {
    char images_path[1024], labels_path[1024];
    if (cg_data_path("t10k-images-idx3-ubyte", NULL, images_path, sizeof images_path) != 0 ||
        cg_data_path("t10k-labels-idx1-ubyte", NULL, labels_path, sizeof labels_path) != 0)
        SKIP("the MNIST test set is not in $CGRAD_DATA (t10k-images-idx3-ubyte.gz and "
             "t10k-labels-idx1-ubyte.gz)");
    size_t image_bytes = 0, label_bytes = 0;
    unsigned char *images = gunzip_file(images_path, &image_bytes);
    unsigned char *labels = gunzip_file(labels_path, &label_bytes);
    cg_dataset *mnist = cg_mnist_read(NULL, "t10k");
    const cg_tensor *features = cg_dataset_features(mnist);
    const cg_shape sample = cg_dataset_sample_shape(mnist);
    /* Class counts straight from the label file's bytes (after its 8-byte header). */
    int64_t file_counts[10] = {0}, read_counts[10] = {0};
    bool labels_in_range = labels && label_bytes == 8 + 10000;
    for (size_t i = 8; labels_in_range && i < label_bytes; i++) {
        labels_in_range = labels[i] < 10;
        if (labels_in_range) file_counts[labels[i]]++;
    }
    int64_t *read_labels = malloc(sizeof(int64_t) * 10000);
    const bool labels_read =
        mnist && read_labels &&
        cg_copy_to_array(cg_dataset_labels(mnist), read_labels, sizeof(int64_t) * 10000) == 0;
    for (int i = 0; labels_read && i < 10000; i++)
        if (read_labels[i] >= 0 && read_labels[i] < 10) read_counts[read_labels[i]]++;
    unsigned char *pixels = malloc(10000 * 784);
    const bool same_pixels = mnist && images && pixels && image_bytes == 16 + 10000 * 784 &&
                             cg_copy_to_array(features, pixels, 10000 * 784) == 0 &&
                             memcmp(pixels, images + 16, 10000 * 784) == 0;
    free(pixels);
    free(read_labels);
    const int64_t count = cg_dataset_size(mnist), classes = cg_dataset_class_count(mnist);
    cg_dataset_free(mnist);
    free(images);
    free(labels);
    CHECK(labels_in_range && labels_read);
    CHECK(count == 10000);
    CHECK(sample.ndim == 3 && sample.dims[0] == 1 && sample.dims[1] == 28 && sample.dims[2] == 28);
    CHECK(classes == 10);
    for (int c = 0; c < 10; c++)
        CHECK(read_counts[c] == file_counts[c] && file_counts[c] > 800);
    CHECK(same_pixels);
}
