/* Raw IDX files are mapped, not copied: the data set's tensor holds the bytes written, equals the
 * tensor read from the same content gzip-compressed, trains to the same weights, and the mapping
 * goes with the last view of it; writes into it stay in memory and never reach the file; files
 * whose header does not fit their length are rejected without leaving a mapping. Under it, a
 * tensor over lent memory calls its lender's release exactly once. */
#define _DEFAULT_SOURCE

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/tensor.h"
#include "fit_problems.h"
#include "temp_dir.h"
#include "test.h"

enum { IMAGES = 48, SIDE = 4, PIXELS = IMAGES * SIDE * SIDE, HEADER = 16 };

/* An images file (header, then PIXELS bytes) into file: sample i is class i % 2, its top half
 * bright for class 1 and its bottom half for class 0, with some texture. */
static void images_file(unsigned char *file) {
    const unsigned char header[HEADER] = {0, 0, 8, 3,    0, 0, 0, IMAGES,
                                          0, 0, 0, SIDE, 0, 0, 0, SIDE};
    memcpy(file, header, HEADER);
    for (int i = 0; i < IMAGES; i++)
        for (int p = 0; p < SIDE * SIDE; p++) {
            const bool bright = (p < SIDE * SIDE / 2) == (i % 2 == 1);
            file[HEADER + i * SIDE * SIDE + p] =
                (unsigned char)((bright ? 180 : 20) + (i * 7 + p * 13) % 50);
        }
}

static void labels_file(unsigned char *file) {
    const unsigned char header[8] = {0, 0, 8, 1, 0, 0, 0, IMAGES};
    memcpy(file, header, sizeof header);
    for (int i = 0; i < IMAGES; i++)
        file[sizeof header + i] = (unsigned char)(i % 2);
}

static bool write_gzip(const char *path, const void *data, size_t size) {
    gzFile file = gzopen(path, "wb");
    if (!file) return false;
    const bool written = gzwrite(file, data, (unsigned)size) == (int)size;
    return gzclose(file) == Z_OK && written;
}

/* 1 when this process maps path, 0 when not, -1 when /proc/self/maps cannot tell. */
static int mapped(const char *path) {
    char real[PATH_MAX], line[PATH_MAX + 256];
    FILE *maps = realpath(path, real) ? fopen("/proc/self/maps", "r") : NULL;
    if (!maps) return -1;
    const size_t length = strlen(real);
    int found = 0;
    while (!found && fgets(line, sizeof line, maps)) {
        const char *name = strstr(line, real);
        found = name && strcmp(name + length, "\n") == 0;
    }
    fclose(maps);
    return found;
}

typedef struct {
    temp_dir dir;
    char raw_images[512], raw_labels[512], gzip_images[512], gzip_labels[512];
    unsigned char images[HEADER + PIXELS], labels[8 + IMAGES];
} idx_files;

/* The images and labels, raw and gzip-compressed, in a new directory; false (the test failed or
 * was skipped) when they cannot be written or mappings cannot be seen. */
static bool write_files(idx_files *files) {
    if (!temp_dir_create(&files->dir)) return false;
    images_file(files->images);
    labels_file(files->labels);
    snprintf(files->raw_images, sizeof files->raw_images, "%s",
             temp_dir_file(&files->dir, "images"));
    snprintf(files->raw_labels, sizeof files->raw_labels, "%s",
             temp_dir_file(&files->dir, "labels"));
    snprintf(files->gzip_images, sizeof files->gzip_images, "%s",
             temp_dir_file(&files->dir, "images.gz"));
    snprintf(files->gzip_labels, sizeof files->gzip_labels, "%s",
             temp_dir_file(&files->dir, "labels.gz"));
    const bool written = write_file(files->raw_images, files->images, sizeof files->images) &&
                         write_file(files->raw_labels, files->labels, sizeof files->labels) &&
                         write_gzip(files->gzip_images, files->images, sizeof files->images) &&
                         write_gzip(files->gzip_labels, files->labels, sizeof files->labels);
    const bool visible = written && mapped(files->raw_images) >= 0;
    if (!written) test_fail(__FILE__, __LINE__, "cannot write the IDX files");
    if (written && !visible) test_skip("/proc/self/maps is not readable here");
    if (!visible) temp_dir_remove(&files->dir);
    return visible;
}

/* The features' bytes equal count samples of the images file from sample first. */
static bool holds_samples(const cg_tensor *features, const unsigned char *images, int first,
                          int count) {
    unsigned char got[PIXELS];
    const size_t size = (size_t)count * SIDE * SIDE;
    return features && cg_numel(features) == (int64_t)size &&
           cg_copy_to_array(features, got, sizeof got) == 0 &&
           memcmp(got, images + HEADER + (size_t)first * SIDE * SIDE, size) == 0;
}

TEST(idx_maps_raw_files_and_unmaps_them_with_the_last_view) {
    idx_files files;
    if (!write_files(&files)) return;
    cg_dataset *raw = cg_idx_read(files.raw_images, files.raw_labels);
    cg_dataset *gzip = cg_idx_read(files.gzip_images, files.gzip_labels);
    const cg_tensor *features = cg_dataset_features(raw);
    const bool read = raw && gzip;
    /* The label bytes become int64 classes, a copy, so their file is unmapped at once. */
    const bool mapped_while_read = mapped(files.raw_images) == 1 && mapped(files.raw_labels) == 0 &&
                                   mapped(files.gzip_images) == 0;
    const bool raw_values = holds_samples(features, files.images, 0, IMAGES);
    const bool gzip_values = holds_samples(cg_dataset_features(gzip), files.images, 0, IMAGES);
    const cg_shape raw_shape = cg_tensor_shape(features);
    const cg_shape gzip_shape = cg_tensor_shape(cg_dataset_features(gzip));
    const bool same_shape =
        raw_shape.ndim == 4 && memcmp(&raw_shape, &gzip_shape, sizeof raw_shape) == 0;
    int64_t raw_labels[IMAGES] = {0}, gzip_labels[IMAGES] = {0};
    bool labels_right =
        read && cg_copy_to_array(cg_dataset_labels(raw), raw_labels, sizeof raw_labels) == 0 &&
        cg_copy_to_array(cg_dataset_labels(gzip), gzip_labels, sizeof gzip_labels) == 0;
    for (int i = 0; i < IMAGES; i++)
        labels_right = labels_right && raw_labels[i] == i % 2 && gzip_labels[i] == i % 2;
    /* A view outlives the data set and keeps the mapping. */
    cg_tensor *view = features ? cg_narrow(features, 0, 10, 5) : NULL;
    cg_dataset_free(raw);
    cg_dataset_free(gzip);
    const bool kept = mapped(files.raw_images) == 1 && holds_samples(view, files.images, 10, 5);
    cg_release(view);
    const bool unmapped = mapped(files.raw_images) == 0;
    temp_dir_remove(&files.dir);
    CHECK(read);
    CHECK(mapped_while_read);
    CHECK(raw_values && gzip_values && same_shape);
    CHECK(labels_right);
    CHECK(kept);
    CHECK(unmapped);
}

static cg_model *image_classifier(void) {
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_dense(8, CG_ACTIVATION_RELU),
                                    cg_layer_dense(2, CG_ACTIVATION_NONE));
    if (!model || cg_model_build(model, CG_SHAPE(1, SIDE, SIDE)) != 0 ||
        cg_compile(model, cg_sgd(0.1, 0.5, false), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) !=
            0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

TEST(idx_mapped_data_sets_train_split_and_free_the_mapping) {
    idx_files files;
    if (!write_files(&files)) return;
    cg_dataset *raw = cg_idx_read(files.raw_images, files.raw_labels);
    cg_dataset *gzip = cg_idx_read(files.gzip_images, files.gzip_labels);
    cg_model *on_mapped = image_classifier(), *on_copied = image_classifier();
    const bool ready = raw && gzip && on_mapped && on_copied;
    parameter_copies start = {0}, trained = {0};
    cg_history *from_mapped = NULL, *from_copied = NULL;
    cg_dataset *train = NULL, *test = NULL;
    bool same_weights = false, moved = false, split = false, unmapped = false, evaluated = false;
    if (ready) {
        start = copy_parameters(on_mapped);
        load_parameters(on_copied, &start);
        /* Shuffled epochs through the background loader, which gathers rows of the mapping. */
        cg_fit_options options = {
            .epochs = 3, .batch_size = 8, .seed = 77, .verbose = CG_VERBOSE_SILENT};
        from_mapped = cg_fit_dataset(on_mapped, raw, NULL, &options);
        from_copied = cg_fit_dataset(on_copied, gzip, NULL, &options);
        trained = copy_parameters(on_copied);
        same_weights = from_mapped && from_copied && parameters_equal(on_mapped, &trained);
        moved = !parameters_equal(on_mapped, &start);
        split = cg_dataset_split(raw, 0.25, true, 5, &train, &test) == 0 &&
                cg_dataset_size(train) == 36 && cg_dataset_size(test) == 12;
        cg_dataset_free(raw);
        raw = NULL;
        /* The parts are copies of their rows. */
        unmapped = mapped(files.raw_images) == 0;
        cg_evaluation evaluation = {0};
        evaluated = split && cg_evaluate_dataset(on_mapped, test, 5, &evaluation) == 0 &&
                    evaluation.samples == 12;
        parameter_copies_release(&start);
        parameter_copies_release(&trained);
    }
    cg_history_free(from_mapped);
    cg_history_free(from_copied);
    cg_model_free(on_mapped);
    cg_model_free(on_copied);
    cg_dataset_free(raw);
    cg_dataset_free(gzip);
    cg_dataset_free(train);
    cg_dataset_free(test);
    temp_dir_remove(&files.dir);
    CHECK(ready);
    CHECK(same_weights && moved);
    CHECK(split && evaluated);
    CHECK(unmapped);
}

TEST(idx_writes_into_a_mapped_data_set_stay_in_memory) {
    idx_files files;
    if (!write_files(&files)) return;
    cg_dataset *raw = cg_idx_read(files.raw_images, NULL);
    cg_tensor *features = cg_dataset_features(raw);
    const bool was_mapped = mapped(files.raw_images) == 1;
    const bool written = features && cg_fill_(features, 7) == 0 &&
                         cg_set(features, (const int64_t[]){3, 0, 1, 2}, 200) == 0;
    unsigned char want[PIXELS], got[PIXELS];
    memset(want, 7, sizeof want);
    want[3 * SIDE * SIDE + 1 * SIDE + 2] = 200;
    const bool changed = written && cg_copy_to_array(features, got, sizeof got) == 0 &&
                         memcmp(got, want, sizeof got) == 0;
    size_t size = 0;
    unsigned char *on_disk = read_file(files.raw_images, &size);
    const bool file_unchanged =
        on_disk && size == sizeof files.images && memcmp(on_disk, files.images, size) == 0;
    free(on_disk);
    /* Another reader of the file sees it unchanged. */
    cg_dataset *again = cg_idx_read(files.raw_images, NULL);
    const bool read_unchanged = holds_samples(cg_dataset_features(again), files.images, 0, IMAGES);
    cg_dataset_free(again);
    cg_dataset_free(raw);
    temp_dir_remove(&files.dir);
    CHECK(was_mapped);
    CHECK(changed);
    CHECK(file_unchanged && read_unchanged);
}

/* Reading bytes as an images file fails with an error naming it and containing text, and leaves
 * nothing mapped. */
static bool rejected_unmapped(const temp_dir *dir, const char *name, const unsigned char *bytes,
                              size_t size, const char *text, int line) {
    char path[512];
    snprintf(path, sizeof path, "%s", temp_dir_file(dir, name));
    cg_clear_error();
    cg_dataset *dataset = write_file(path, bytes, size) ? cg_idx_read(path, NULL) : NULL;
    const char *message = cg_last_error();
    const bool ok = !dataset && strstr(message, path) && strstr(message, text) && !mapped(path);
    if (!ok)
        test_fail(__FILE__, line, "%s: error \"%s\", expected the path, \"%s\" and no mapping",
                  name, message, text);
    cg_dataset_free(dataset);
    return ok;
}

TEST(idx_rejects_raw_files_that_do_not_match_their_header_before_mapping) {
    idx_files files;
    if (!write_files(&files)) return;
    unsigned char bytes[HEADER + PIXELS];
    memcpy(bytes, files.images, sizeof bytes);
    const bool cut =
        rejected_unmapped(&files.dir, "cut", bytes, sizeof bytes - 100,
                          "declares 48 x 4 x 4 = 768 bytes of data, the file holds 668", __LINE__);
    bytes[7] = IMAGES + 1; /* one image more than the file holds */
    const bool overstated =
        rejected_unmapped(&files.dir, "overstated", bytes, sizeof bytes,
                          "declares 49 x 4 x 4 = 784 bytes of data, the file holds 768", __LINE__);
    bytes[7] = IMAGES;
    bytes[0] = 0x1F;
    const bool wrong_magic = rejected_unmapped(&files.dir, "wrong-magic", bytes, sizeof bytes,
                                               "not an IDX file", __LINE__);
    temp_dir_remove(&files.dir);
    CHECK(cut && overstated && wrong_magic);
}

/* A lender's release that counts its calls on the buffer (a float array whose slot 0 counts). */
static void count_release(void *data, size_t nbytes) {
    (void)nbytes;
    ((float *)data)[0] += 1;
}

TEST(tensors_over_lent_memory_release_it_once_when_the_last_view_goes) {
    float buffer[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    cg_tensor *t = cg_tensor_from_memory(2, (const int64_t[]){2, 3}, CG_FLOAT32, 2, buffer,
                                         sizeof buffer, count_release);
    const bool values =
        t && cg_get(t, (const int64_t[]){0, 0}) == 2 && cg_get(t, (const int64_t[]){1, 2}) == 7;
    cg_tensor *row = t ? cg_narrow(t, 0, 1, 1) : NULL;
    cg_release(t);
    const bool kept = buffer[0] == 0 && row && cg_get(row, (const int64_t[]){0, 1}) == 6;
    cg_release(row);
    const bool released = buffer[0] == 1;
    /* One element too many: refused, and the memory goes back at once. */
    cg_clear_error();
    cg_tensor *too_long = cg_tensor_from_memory(2, (const int64_t[]){2, 3}, CG_FLOAT32, 3, buffer,
                                                sizeof buffer, count_release);
    const bool refused = !too_long && strstr(cg_last_error(), "does not fit") && buffer[0] == 2;
    cg_release(too_long);
    CHECK(values && kept);
    CHECK(released);
    CHECK(refused);
}
