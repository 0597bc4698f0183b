/* cg_model_save and cg_model_load: a model is a safetensors file holding every parameter and
 * buffer under its state-dict name ("0.weight", "1.running_mean"), with the architecture (the
 * model's spec text), the compile settings and the user's metadata in __metadata__. The
 * optimizer's state is not saved: a loaded model gets a fresh optimizer of the saved kind. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "nn/metrics.h"
#include "nn/nn_internal.h"

#define FORMAT_NAME "cgrad"
#define FORMAT_VERSION "1"
/* User metadata keys get this prefix, so they cannot collide with the format's own keys. */
#define USER_KEY_PREFIX "user."

/* The keys the format itself writes: format, format_version, architecture, loss, metrics and
 * optimizer. */
enum { FORMAT_KEY_COUNT = 6, METRICS_TEXT_MAX = 64 };

/* Sets "function: 'path': message", formatting the message first (it may be cg_last_error()). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
model_file_error(const char *function, const char *path, const char *format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("%s: '%s': %s", function, path, message);
}

/* Puts "function: " in front of the last error. */
static void prefix_last_error(const char *function) {
    char message[768];
    snprintf(message, sizeof message, "%s", cg_last_error());
    cg_error_set("%s: %s", function, message);
}

/* ----- saving ----- */

/* The model's tensors with copies of their names (the visitor's name is temporary). */
typedef struct {
    cg_safetensors_entry *entries;
    size_t count, capacity;
} tensor_list;

static int collect_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)trainable;
    tensor_list *list = userdata;
    if (list->count == list->capacity) {
        const size_t capacity = list->capacity ? list->capacity * 2 : 16;
        cg_safetensors_entry *entries = realloc(list->entries, capacity * sizeof *entries);
        if (!entries) {
            cg_error_set("out of memory listing the tensors");
            return -1;
        }
        list->entries = entries;
        list->capacity = capacity;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy) {
        cg_error_set("out of memory listing the tensors");
        return -1;
    }
    strcpy(copy, name);
    list->entries[list->count++] = (cg_safetensors_entry){copy, tensor};
    return 0;
}

static void tensor_list_free(tensor_list *list) {
    for (size_t i = 0; i < list->count; i++)
        free((char *)list->entries[i].name);
    free(list->entries);
}

/* "accuracy,mae": the names of the metric flags, in logging order. */
static void format_metrics(unsigned metrics, char *text, size_t size) {
    size_t used = 0;
    text[0] = '\0';
    for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++) {
        if (!(metrics & cg_metric_flag(kind))) continue;
        used += (size_t)snprintf(text + used, size - used, "%s%s", used ? "," : "",
                                 cg_metric_name(kind));
    }
}

/* The metadata: the format's keys, then each user entry under USER_KEY_PREFIX + its key (those
 * keys are written into user_keys, which the caller frees). */
static int build_metadata(const cg_model *model, const char *architecture, const char *metrics,
                          cg_safetensors_metadata *metadata, size_t *count, char **user_keys) {
    size_t n = 0;
    metadata[n++] = (cg_safetensors_metadata){"format", FORMAT_NAME};
    metadata[n++] = (cg_safetensors_metadata){"format_version", FORMAT_VERSION};
    metadata[n++] = (cg_safetensors_metadata){"architecture", architecture};
    if (model->compiled) {
        metadata[n++] = (cg_safetensors_metadata){"loss", cg_loss_name(model->loss)};
        metadata[n++] = (cg_safetensors_metadata){"metrics", metrics};
        metadata[n++] = (cg_safetensors_metadata){
            "optimizer", cg_optimizer_name(cg_optimizer_get_kind(model->optimizer))};
    }
    for (int i = 0; i < model->metadata_count; i++) {
        const char *key = model->metadata[i].key;
        user_keys[i] = malloc(sizeof USER_KEY_PREFIX + strlen(key));
        if (!user_keys[i]) {
            cg_error_set("out of memory for the metadata");
            return -1;
        }
        strcat(strcpy(user_keys[i], USER_KEY_PREFIX), key);
        metadata[n++] = (cg_safetensors_metadata){user_keys[i], model->metadata[i].value};
    }
    *count = n;
    return 0;
}

int cg_model_save(const cg_model *model, const char *path) {
    if (!model || !path) {
        cg_error_set("cg_model_save: needs a model and a path");
        return -1;
    }
    if (!model->built) {
        model_file_error("cg_model_save", path,
                         "the model is not built (build it, or fit it, before saving)");
        return -1;
    }
    const size_t user_count = (size_t)model->metadata_count;
    tensor_list tensors = {0};
    char metrics[METRICS_TEXT_MAX];
    format_metrics(model->metrics, metrics, sizeof metrics);
    char *architecture = cg_model_to_spec(model);
    char **user_keys = calloc(user_count ? user_count : 1, sizeof *user_keys);
    cg_safetensors_metadata *metadata = malloc((FORMAT_KEY_COUNT + user_count) * sizeof *metadata);
    size_t metadata_count = 0;
    int status = architecture ? 0 : -1;
    if (status == 0 && (!user_keys || !metadata)) {
        cg_error_set("out of memory for the metadata");
        status = -1;
    }
    if (status == 0)
        status = build_metadata(model, architecture, metrics, metadata, &metadata_count, user_keys);
    if (status == 0) status = cg_model_visit_tensors(model, collect_tensor, &tensors);
    if (status != 0)
        model_file_error("cg_model_save", path, "%s", cg_last_error());
    else if (cg_safetensors_write(path, tensors.entries, tensors.count, metadata, metadata_count) <
             0) {
        prefix_last_error("cg_model_save");
        status = -1;
    }
    for (size_t i = 0; user_keys && i < user_count; i++)
        free(user_keys[i]);
    free(user_keys);
    free(metadata);
    free(architecture);
    tensor_list_free(&tensors);
    return status == 0 ? 0 : -1;
}

/* ----- loading ----- */

typedef struct {
    const char *path;
    const cg_safetensors_contents *contents;
    bool *used; /* per file tensor: claimed by a model tensor */
} tensor_loader;

static int load_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)trainable;
    const tensor_loader *loader = userdata;
    size_t i = 0;
    while (i < loader->contents->tensor_count &&
           strcmp(loader->contents->tensors[i].name, name) != 0)
        i++;
    if (i == loader->contents->tensor_count) {
        model_file_error("cg_model_load", loader->path, "tensor '%s' is missing from the file",
                         name);
        return -1;
    }
    const cg_tensor *saved = loader->contents->tensors[i].tensor;
    if (saved->dtype != tensor->dtype) {
        model_file_error("cg_model_load", loader->path,
                         "tensor '%s' is %s in the file, but the architecture makes it %s", name,
                         cg_dtype_name(saved->dtype), cg_dtype_name(tensor->dtype));
        return -1;
    }
    if (saved->ndim != tensor->ndim ||
        memcmp(saved->shape, tensor->shape, sizeof(int64_t) * (size_t)saved->ndim) != 0) {
        model_file_error("cg_model_load", loader->path,
                         "tensor '%s' has shape %s in the file, but the architecture makes it %s",
                         name, cg_shape_text(saved), cg_shape_text(tensor));
        return -1;
    }
    if (cg_copy_(tensor, saved) < 0) {
        model_file_error("cg_model_load", loader->path, "tensor '%s': %s", name, cg_last_error());
        return -1;
    }
    loader->used[i] = true;
    return 0;
}

/* The first floating-point dtype among the file's tensors, or CG_DTYPE_COUNT when none is. */
static cg_dtype saved_float_dtype(const cg_safetensors_contents *contents) {
    for (size_t i = 0; i < contents->tensor_count; i++) {
        if (cg_dtype_is_float(contents->tensors[i].tensor->dtype))
            return contents->tensors[i].tensor->dtype;
    }
    return CG_DTYPE_COUNT;
}

/* Copies every tensor of the file into the rebuilt model: each model tensor must be in the file
 * with its dtype and shape, and the file may hold no other. A model saved in float64 (see
 * cg_model_to_dtype) is converted to float64 first, as the spec text does not record it. */
static int load_tensors(const char *path, cg_model *model,
                        const cg_safetensors_contents *contents) {
    if (saved_float_dtype(contents) == CG_FLOAT64 && cg_model_to_dtype(model, CG_FLOAT64) < 0) {
        model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    tensor_loader loader = {path, contents, calloc(contents->tensor_count + 1, sizeof(bool))};
    if (!loader.used) {
        model_file_error("cg_model_load", path, "out of memory");
        return -1;
    }
    int status = cg_model_visit_tensors(model, load_tensor, &loader) == 0 ? 0 : -1;
    for (size_t i = 0; status == 0 && i < contents->tensor_count; i++) {
        if (!loader.used[i]) {
            model_file_error("cg_model_load", path,
                             "unexpected tensor '%s' (the architecture has no such tensor)",
                             contents->tensors[i].name);
            status = -1;
        }
    }
    free(loader.used);
    return status;
}

static int restore_user_metadata(const char *path, cg_model *model,
                                 const cg_safetensors_contents *contents) {
    const size_t prefix_length = strlen(USER_KEY_PREFIX);
    for (size_t i = 0; i < contents->metadata_count; i++) {
        const cg_safetensors_metadata *entry = &contents->metadata[i];
        if (strncmp(entry->key, USER_KEY_PREFIX, prefix_length) != 0) continue;
        if (cg_model_set_metadata(model, entry->key + prefix_length, entry->value) < 0) {
            model_file_error("cg_model_load", path, "metadata '%s': %s", entry->key,
                             cg_last_error());
            return -1;
        }
    }
    return 0;
}

/* Parses "accuracy,mae" into CG_METRIC_* flags. */
static int parse_metrics(const char *path, const char *text, unsigned *metrics) {
    *metrics = 0;
    while (*text) {
        const size_t length = strcspn(text, ",");
        int kind = 0;
        while (kind < CG_METRIC_KIND_COUNT && (strlen(cg_metric_name(kind)) != length ||
                                               strncmp(text, cg_metric_name(kind), length) != 0))
            kind++;
        if (kind == CG_METRIC_KIND_COUNT) {
            model_file_error("cg_model_load", path, "unknown metric '%.*s' in the metadata",
                             (int)length, text);
            return -1;
        }
        *metrics |= cg_metric_flag(kind);
        text += length + (text[length] == ',');
    }
    return 0;
}

/* Compiles the model as it was saved (loss, metrics, optimizer kind with default options), or
 * leaves it uncompiled when it was saved so. */
static int restore_compile(const char *path, cg_model *model,
                           const cg_safetensors_contents *contents) {
    const char *loss_name = cg_safetensors_find_metadata(contents, "loss");
    if (!loss_name) return 0;
    const char *metrics_text = cg_safetensors_find_metadata(contents, "metrics");
    const char *optimizer_name = cg_safetensors_find_metadata(contents, "optimizer");
    if (!metrics_text || !optimizer_name) {
        model_file_error("cg_model_load", path, "the metadata has a loss but no %s",
                         metrics_text ? "optimizer" : "metrics");
        return -1;
    }
    cg_loss loss;
    cg_optimizer_kind kind;
    unsigned metrics;
    if (cg_loss_parse(loss_name, &loss) < 0 || cg_optimizer_parse(optimizer_name, &kind) < 0) {
        model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    if (parse_metrics(path, metrics_text, &metrics) < 0) return -1;
    const cg_optimizer_options options = cg_optimizer_defaults(kind);
    if (cg_compile(model, cg_optimizer_new(kind, &options), loss, metrics) < 0) {
        model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    return 0;
}

static cg_model *model_from_contents(const char *path, const cg_safetensors_contents *contents) {
    const char *format = cg_safetensors_find_metadata(contents, "format");
    const char *version = cg_safetensors_find_metadata(contents, "format_version");
    const char *architecture = cg_safetensors_find_metadata(contents, "architecture");
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        model_file_error("cg_model_load", path,
                         "not a cgrad model (its metadata has no \"format\": \"" FORMAT_NAME "\")");
        return NULL;
    }
    if (!version || strcmp(version, FORMAT_VERSION) != 0) {
        model_file_error("cg_model_load", path,
                         "format_version '%s' is not supported (this build reads " FORMAT_VERSION
                         ")",
                         version ? version : "(missing)");
        return NULL;
    }
    if (!architecture) {
        model_file_error("cg_model_load", path, "the metadata has no architecture");
        return NULL;
    }
    cg_model *model = cg_model_from_spec(architecture);
    if (!model) {
        model_file_error("cg_model_load", path, "architecture: %s", cg_last_error());
        return NULL;
    }
    if (!model->built) {
        model_file_error("cg_model_load", path, "the architecture has no input line");
        cg_model_free(model);
        return NULL;
    }
    if (load_tensors(path, model, contents) < 0 ||
        restore_user_metadata(path, model, contents) < 0 ||
        restore_compile(path, model, contents) < 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

cg_model *cg_model_load(const char *path) {
    if (!path) {
        cg_error_set("cg_model_load: no path given");
        return NULL;
    }
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    if (!contents) {
        prefix_last_error("cg_model_load");
        return NULL;
    }
    cg_model *model = model_from_contents(path, contents);
    cg_safetensors_contents_free(contents);
    return model;
}
