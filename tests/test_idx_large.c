/* IDX files of more than 8 MiB, the size from which the allocator places blocks on huge-page
 * boundaries: a gzip file reads back exactly into such a block, filled in one call, a raw file
 * exactly as a view into its mapping, and cut files, raw or compressed, are still rejected with
 * the file named. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/tensor.h"
#include "temp_dir.h"
#include "test.h"

enum { IMAGES = 3000, ROWS = 40, COLUMNS = 80, HEADER = 16, HUGE_PAGE = 2 << 20 };
static const size_t PIXELS = (size_t)IMAGES * ROWS * COLUMNS; /* 9.6 MB */

/* An images file: header, then bytes from xorshift, which gzip cannot shrink much, so that the
 * compressed file is long enough to hold the declared size at once. */
static unsigned char *large_images_file(size_t *size) {
    unsigned char *file = malloc(HEADER + PIXELS);
    if (!file) return NULL;
    const unsigned char header[HEADER] = {0, 0, 8, 3,    0, 0, IMAGES >> 8, IMAGES & 0xFF,
                                          0, 0, 0, ROWS, 0, 0, 0,           COLUMNS};
    memcpy(file, header, HEADER);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < PIXELS; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        file[HEADER + i] = (unsigned char)(state >> 24);
    }
    *size = HEADER + PIXELS;
    return file;
}

static bool write_gzip(const char *path, const void *data, size_t size) {
    gzFile file = gzopen(path, "wb1");
    if (!file) return false;
    const bool written = gzwrite(file, data, (unsigned)size) == (int)size;
    return gzclose(file) == Z_OK && written;
}

/* Reads path and checks that its features are the file's pixels, at a multiple of alignment
 * plus offset. */
static bool reads_back(const char *path, const unsigned char *file, uintptr_t alignment,
                       uintptr_t offset, const char *what) {
    cg_dataset *dataset = cg_idx_read(path, NULL);
    const cg_tensor *features = cg_dataset_features(dataset);
    const unsigned char *data = features ? cg_tensor_data(features) : NULL;
    const bool same =
        data && cg_numel(features) == (int64_t)PIXELS && memcmp(data, file + HEADER, PIXELS) == 0;
    const bool placed = data && (uintptr_t)data % alignment == offset;
    cg_dataset_free(dataset);
    if (!same || !placed)
        test_fail(__FILE__, __LINE__, "%s: %s (%s)", what,
                  !same ? "the pixels differ or are missing" : "not where expected",
                  cg_last_error());
    return same && placed;
}

/* Reading path fails with an error naming it and containing text. */
static bool rejected(const char *path, const char *text, const char *what) {
    cg_clear_error();
    cg_dataset *dataset = cg_idx_read(path, NULL);
    const char *message = cg_last_error();
    const bool ok = !dataset && strstr(message, path) && strstr(message, text);
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: error \"%s\", expected the path and \"%s\"", what,
                  message, text);
    cg_dataset_free(dataset);
    return ok;
}

TEST(idx_maps_large_raw_files_and_reads_gzip_files_into_huge_page_blocks) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    size_t size = 0;
    unsigned char *file = large_images_file(&size);
    char raw[512], compressed[512];
    snprintf(raw, sizeof raw, "%s", temp_dir_file(&dir, "large-images"));
    snprintf(compressed, sizeof compressed, "%s", temp_dir_file(&dir, "large-images.gz"));
    const bool written = file && write_file(raw, file, size) && write_gzip(compressed, file, size);
    CHECK(written);
    if (written) {
        /* The mapping starts on a page; the data after the header. */
        CHECK(reads_back(raw, file, (uintptr_t)sysconf(_SC_PAGESIZE), HEADER, "raw"));
        CHECK(reads_back(compressed, file, HUGE_PAGE, 0, "gzip"));
    }
    free(file);
    temp_dir_remove(&dir);
}

TEST(idx_rejects_cut_large_files_naming_them) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    size_t size = 0, compressed_size = 0;
    unsigned char *file = large_images_file(&size);
    char raw[512], compressed[512];
    snprintf(raw, sizeof raw, "%s", temp_dir_file(&dir, "cut-images"));
    snprintf(compressed, sizeof compressed, "%s", temp_dir_file(&dir, "cut-images.gz"));
    /* The raw file loses its last 1000 bytes; the gzip file is cut in the middle of its stream,
     * still long enough to hold the declared size. */
    bool written = file && write_file(raw, file, size - 1000) && write_gzip(compressed, file, size);
    unsigned char *stream = written ? read_file(compressed, &compressed_size) : NULL;
    written = stream && write_file(compressed, stream, compressed_size / 2);
    CHECK(written);
    if (written) {
        CHECK(rejected(raw, "the file holds 9599000", "raw"));
        CHECK(rejected(compressed, "truncated", "gzip"));
    }
    free(stream);
    free(file);
    temp_dir_remove(&dir);
}
