/* Reading IDX files, the format of MNIST: a big-endian header (two zero bytes, a dtype code, the
 * number of dims, then each dim as a 32-bit size) followed by the elements in row-major order.
 * Files go through zlib, which passes a file that is not gzip through unchanged, so a file is
 * decompressed when its content is gzip, whatever its name; a raw regular file's data is mapped
 * instead of read. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/dataset.h"

enum { IDX_UNSIGNED_BYTE = 0x08, IDX_MAX_DIMS = 4, IDX_IMAGE_DIMS = 3, IDX_LABEL_DIMS = 1 };
/* A stream that may not hold its declared size is read into a buffer that starts this large and
 * doubles as data arrives. */
enum { FIRST_BUFFER_BYTES = 1 << 16, STREAM_BUFFER_BYTES = 1 << 17 };
/* Deflate expands its input at most 1032-fold (a 258-byte match in 2 bits). */
enum { DEFLATE_MAX_RATIO = 1032 };
/* No IDX file we read declares more data than this (1 TiB); it also keeps sizes far from
 * overflowing. */
static const uint64_t MAX_DATA_BYTES = (uint64_t)1 << 40;

typedef struct {
    const char *path;
    gzFile stream;
    int fd;            /* the stream's descriptor, for mapping a raw file */
    bool regular;      /* a regular file: its length is known */
    uint64_t length;   /* of the file as stored */
    bool length_known; /* a raw regular file: its length bounds every size before reading */
    int ndim;
    int64_t dims[IDX_MAX_DIMS];
    uint64_t header_bytes, data_bytes;
} idx_file;

/* Sets "idx: 'path': message". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
idx_error(const char *path, const char *format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("idx: '%s': %s", path, message);
}

static bool idx_open(idx_file *file) {
    const int fd = open(file->path, O_RDONLY);
    if (fd < 0) {
        idx_error(file->path, "cannot open: %s", strerror(errno));
        return false;
    }
    struct stat info;
    const bool examined = fstat(fd, &info) == 0;
    if (!examined || S_ISDIR(info.st_mode)) {
        idx_error(file->path, "cannot read: %s", examined ? "it is a directory" : strerror(errno));
        close(fd);
        return false;
    }
    file->fd = fd;
    file->regular = S_ISREG(info.st_mode);
    file->length = (uint64_t)info.st_size;
    file->stream = gzdopen(fd, "rb");
    if (!file->stream) {
        idx_error(file->path, "out of memory opening the file");
        close(fd);
        return false;
    }
    gzbuffer(file->stream, STREAM_BUFFER_BYTES);
    return true;
}

/* Reads up to count bytes into buffer; the number read (fewer at the end of the data), or -1 with
 * an error when the compressed stream is corrupt. */
static int64_t read_bytes(const idx_file *file, void *buffer, uint64_t count) {
    uint64_t done = 0;
    while (done < count) {
        const unsigned chunk = count - done > (1u << 30) ? 1u << 30 : (unsigned)(count - done);
        const int got = gzread(file->stream, (char *)buffer + done, chunk);
        if (got < 0) {
            int code;
            idx_error(file->path, "corrupt compressed data: %s", gzerror(file->stream, &code));
            return -1;
        }
        if (got == 0) break;
        done += (uint64_t)got;
    }
    return (int64_t)done;
}

/* Why the data stopped short: a gzip stream cut off before its end, or just a short file. */
static const char *end_cause(const idx_file *file) {
    int code;
    gzerror(file->stream, &code);
    return code == Z_BUF_ERROR ? " (the compressed stream is cut short)" : "";
}

/* The dims as "10000 x 28 x 28" for messages. */
static const char *dims_text(const idx_file *file, char *buffer, size_t size) {
    size_t used = 0;
    buffer[0] = '\0';
    for (int k = 0; k < file->ndim && used < size; k++)
        used += (size_t)snprintf(buffer + used, size - used, k ? " x %lld" : "%lld",
                                 (long long)file->dims[k]);
    return buffer;
}

static const char *idx_dtype_name(int code) {
    switch (code) {
    case 0x09: return "signed bytes";
    case 0x0B: return "16-bit integers";
    case 0x0C: return "32-bit integers";
    case 0x0D: return "32-bit floats";
    case 0x0E: return "64-bit floats";
    default: return "not an IDX dtype";
    }
}

/* Checks the magic number: unsigned bytes, and dims fitting what the file holds (exactly
 * IDX_LABEL_DIMS for labels, 1 to IDX_MAX_DIMS for features). */
static bool check_magic(const idx_file *file, const uint8_t *magic, bool labels) {
    const unsigned value =
        (unsigned)magic[0] << 24 | (unsigned)magic[1] << 16 | (unsigned)magic[2] << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0) {
        idx_error(file->path,
                  "not an IDX file: the magic number 0x%08x does not start with two zero bytes "
                  "(%s files start with 0x%08x)",
                  value, labels ? "label" : "image", labels ? 0x801u : 0x803u);
        return false;
    }
    if (magic[2] != IDX_UNSIGNED_BYTE) {
        idx_error(file->path,
                  "magic number 0x%08x: dtype code 0x%02x (%s) is not supported; only 0x08, "
                  "unsigned bytes, is",
                  value, magic[2], idx_dtype_name(magic[2]));
        return false;
    }
    if (labels && magic[3] != IDX_LABEL_DIMS) {
        idx_error(file->path,
                  "magic number 0x%08x: %u dims, but a label file has 1 (magic 0x00000801)", value,
                  magic[3]);
        return false;
    }
    if (magic[3] < 1 || magic[3] > IDX_MAX_DIMS) {
        idx_error(file->path, "magic number 0x%08x: %u dims; features have 1 to %d", value,
                  magic[3], IDX_MAX_DIMS);
        return false;
    }
    return true;
}

/* Reports data that stops after held of the declared bytes. */
static void report_truncated(const idx_file *file, uint64_t held) {
    char dims[128];
    idx_error(file->path,
              "truncated: the header declares %s = %llu bytes of data, the %s holds %llu%s",
              dims_text(file, dims, sizeof dims), (unsigned long long)file->data_bytes,
              file->length_known ? "file" : "decompressed data", (unsigned long long)held,
              end_cause(file));
}

static void report_trailing(const idx_file *file, const char *amount) {
    char dims[128];
    idx_error(file->path, "%s of trailing data after the %llu bytes the header (%s) declares",
              amount, (unsigned long long)file->data_bytes, dims_text(file, dims, sizeof dims));
}

/* The declared data size against the file's length, when the file is raw and regular. */
static bool check_length(const idx_file *file) {
    const uint64_t held = file->length - file->header_bytes;
    if (held < file->data_bytes) report_truncated(file, held);
    if (held > file->data_bytes) {
        char amount[64];
        snprintf(amount, sizeof amount, "%llu bytes",
                 (unsigned long long)(held - file->data_bytes));
        report_trailing(file, amount);
    }
    return held == file->data_bytes;
}

/* Reads and checks the magic number and the dims. */
static bool read_header(idx_file *file, bool labels) {
    uint8_t magic[4], sizes[4 * IDX_MAX_DIMS];
    const int64_t got = read_bytes(file, magic, sizeof magic);
    if (got < 0) return false;
    if (got < (int64_t)sizeof magic) {
        idx_error(file->path, "truncated: %lld bytes, shorter than the 4-byte magic number%s",
                  (long long)got, end_cause(file));
        return false;
    }
    if (!check_magic(file, magic, labels)) return false;
    file->ndim = magic[3];
    const int64_t size_bytes = 4 * file->ndim;
    const int64_t got_sizes = read_bytes(file, sizes, (uint64_t)size_bytes);
    if (got_sizes < 0) return false;
    if (got_sizes < size_bytes) {
        idx_error(file->path,
                  "truncated header: %d dims need %lld bytes of sizes, the file has %lld%s",
                  file->ndim, (long long)size_bytes, (long long)got_sizes, end_cause(file));
        return false;
    }
    file->header_bytes = sizeof magic + (uint64_t)size_bytes;
    file->data_bytes = 1;
    for (int k = 0; k < file->ndim; k++) {
        const uint8_t *b = sizes + 4 * k;
        const uint64_t dim =
            (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
        file->dims[k] = (int64_t)dim;
        if (dim == 0) {
            idx_error(file->path, "dim %d of the header is 0: the file holds no data", k);
            return false;
        }
        /* Each dim is below 2^32, so the product cannot overflow before it passes the limit. */
        file->data_bytes *= dim;
        if (file->data_bytes > MAX_DATA_BYTES) {
            idx_error(file->path,
                      "the header's dims declare more than %llu bytes of data; not an IDX file "
                      "this reader accepts",
                      (unsigned long long)MAX_DATA_BYTES);
            return false;
        }
    }
    file->length_known = file->regular && gzdirect(file->stream);
    return !file->length_known || check_length(file);
}

/* After the data: nothing more, and for a gzip stream an intact end (zlib checks the CRC and
 * length in its trailer when it reaches it). */
static bool check_end(const idx_file *file) {
    uint8_t extra[256];
    const int64_t got = read_bytes(file, extra, sizeof extra);
    if (got < 0) return false;
    if (got > 0) {
        report_trailing(file, "more bytes");
        return false;
    }
    int code;
    gzerror(file->stream, &code);
    if (code == Z_BUF_ERROR) {
        idx_error(file->path, "the compressed stream is cut short after the data (its gzip "
                              "trailer is missing)");
        return false;
    }
    return true;
}

/* The most data bytes the file can hold, as far as its length tells: a raw file's data after the
 * header, a compressed file's length times deflate's largest expansion; 0 for a pipe. */
static uint64_t most_data_bytes(const idx_file *file) {
    if (!file->regular) return 0;
    if (file->length_known) return file->length - file->header_bytes;
    return file->length > MAX_DATA_BYTES ? MAX_DATA_BYTES : file->length * DEFLATE_MAX_RATIO;
}

/* Copies the data into a new uint8 tensor of the given shape. When the file can hold the declared
 * size (a raw file's length was checked against it; a compressed file is long enough), the tensor
 * is allocated at once and the data read straight into it, in one call. Otherwise the data goes
 * into a buffer that doubles as it arrives, so a small file declaring a huge size fails at its
 * end without having claimed the memory; the last step of the growth is the tensor itself. */
static cg_tensor *copy_data(const idx_file *file, int ndim, const int64_t *shape) {
    const uint64_t total = file->data_bytes;
    uint8_t *partial = NULL;
    uint64_t filled = 0;
    uint64_t capacity =
        total <= most_data_bytes(file) || total < FIRST_BUFFER_BYTES ? total : FIRST_BUFFER_BYTES;
    while (capacity < total) {
        uint8_t *grown = realloc(partial, (size_t)capacity);
        if (!grown) {
            idx_error(file->path, "out of memory reading %llu bytes", (unsigned long long)total);
            free(partial);
            return NULL;
        }
        partial = grown;
        const int64_t got = read_bytes(file, partial + filled, capacity - filled);
        if (got >= 0) filled += (uint64_t)got;
        if (got < 0 || filled < capacity) {
            if (got >= 0) report_truncated(file, filled);
            free(partial);
            return NULL;
        }
        capacity = capacity * 2 < total ? capacity * 2 : total;
    }
    cg_tensor *data = cg_tensor_new(ndim, shape, CG_UINT8, (cg_device){CG_DEVICE_CPU, 0});
    if (data && filled) memcpy(cg_tensor_data(data), partial, (size_t)filled);
    free(partial);
    if (!data) return NULL;
    const int64_t got = read_bytes(file, (uint8_t *)cg_tensor_data(data) + filled, total - filled);
    if (got >= 0 && filled + (uint64_t)got < total) report_truncated(file, filled + (uint64_t)got);
    if (got < 0 || filled + (uint64_t)got < total || !check_end(file)) {
        cg_release(data);
        return NULL;
    }
    return data;
}

/* The release of a mapped file's storage. */
static void unmap_file(void *data, size_t nbytes) { munmap(data, nbytes); }

/* The data as a uint8 tensor of the given shape: for a raw regular file (its length already
 * checked against the header), a view into the file mapped whole, nothing copied; pages come from
 * the page cache as samples are first read. The mapping is private and writable, so a write into
 * the tensor changes a private copy of its page, never the file, and cannot fault. No madvise:
 * MADV_RANDOM stops the read-around of a file not in the page cache (6,000 shuffled samples of
 * Fashion-MNIST then took 640 to 900 ms instead of 80 to 130), and MADV_WILLNEED measured the
 * same as the default, cached or not. Where a file cannot be mapped, it is read. */
static cg_tensor *read_data(const idx_file *file, int ndim, const int64_t *shape) {
    void *mapped = file->length_known ? mmap(NULL, (size_t)file->length, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE, file->fd, 0)
                                      : MAP_FAILED;
    if (mapped == MAP_FAILED) return copy_data(file, ndim, shape);
    return cg_tensor_from_memory(ndim, shape, CG_UINT8, (int64_t)file->header_bytes, mapped,
                                 (size_t)file->length, unmap_file);
}

/* Images (N, H, W) get a channel dim, (N, 1, H, W); a file of single values (N) becomes (N, 1);
 * other files keep their dims. */
static cg_tensor *read_features(const idx_file *file) {
    int64_t shape[IDX_MAX_DIMS + 1];
    int ndim = 0;
    shape[ndim++] = file->dims[0];
    if (file->ndim == 1 || file->ndim == IDX_IMAGE_DIMS) shape[ndim++] = 1;
    for (int k = 1; k < file->ndim; k++)
        shape[ndim++] = file->dims[k];
    return read_data(file, ndim, shape);
}

/* Class names "0", "1", ... for count classes; NULL with an error. */
static char **class_names(int64_t count) {
    char **names = calloc((size_t)count, sizeof *names);
    if (!names) cg_error_set("idx: out of memory for %lld class names", (long long)count);
    for (int64_t c = 0; names && c < count; c++) {
        char name[8];
        const int length = snprintf(name, sizeof name, "%lld", (long long)c);
        names[c] = cg_string_copy(name, (size_t)length);
        if (!names[c]) {
            cg_string_array_free(names, c);
            return NULL;
        }
    }
    return names;
}

/* The data set from the features and the label bytes (either may be NULL after a failure, which
 * frees the other); labels become int64 class indices, as many classes as the largest + 1. */
static cg_dataset *build_dataset(cg_tensor *features, cg_tensor *label_bytes, bool has_labels) {
    int64_t class_count = 0;
    if (label_bytes) {
        const uint8_t *bytes = cg_tensor_data(label_bytes);
        for (int64_t i = 0; i < cg_numel(label_bytes); i++)
            if (bytes[i] + 1 > class_count) class_count = bytes[i] + 1;
    }
    cg_tensor *labels = label_bytes ? cg_to_dtype(label_bytes, CG_INT64) : NULL;
    char **names = labels ? class_names(class_count) : NULL;
    cg_release(label_bytes);
    if (!features || (has_labels && !names)) {
        cg_release(features);
        cg_release(labels);
        cg_string_array_free(names, class_count);
        return NULL;
    }
    cg_dataset *dataset = cg_dataset_new(features, labels, NULL, class_count, names);
    if (dataset) dataset->feature_scale = 1.0 / 255.0;
    return dataset;
}

cg_dataset *cg_idx_read(const char *images_path, const char *labels_path) {
    if (!images_path) {
        cg_error_set("idx: images_path is NULL");
        return NULL;
    }
    idx_file images = {.path = images_path}, labels = {.path = labels_path};
    /* Both headers first, so that files that disagree fail before any data is read. */
    bool ok = idx_open(&images) && read_header(&images, false);
    if (ok && labels_path) ok = idx_open(&labels) && read_header(&labels, true);
    if (ok && labels_path && labels.dims[0] != images.dims[0]) {
        idx_error(labels_path, "%lld labels for the %lld samples of '%s'",
                  (long long)labels.dims[0], (long long)images.dims[0], images_path);
        ok = false;
    }
    cg_tensor *features = ok ? read_features(&images) : NULL;
    cg_tensor *label_bytes = features && labels_path ? read_data(&labels, 1, labels.dims) : NULL;
    if (images.stream) gzclose_r(images.stream);
    if (labels.stream) gzclose_r(labels.stream);
    return build_dataset(features, label_bytes, labels_path != NULL);
}
