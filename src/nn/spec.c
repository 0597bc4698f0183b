/* Model specs: text with one layer per line, parsed through one table of layer types (built-in
 * types, then types registered with cg_layer_register), and written back from a model. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/layers.h"

enum { MAX_LINE = 1024, MAX_REGISTERED_TYPES = 64 };

typedef struct {
    char name[CG_NAME_MAX];
    cg_layer_factory factory;
} layer_type;

static const layer_type BUILT_IN_TYPES[] = {
    {"dense", cg_dense_from_spec},
    {"dropout", cg_dropout_from_spec},
    {"flatten", cg_flatten_from_spec},
    {"batchnorm", cg_batch_norm_from_spec},
    {"activation", cg_activation_layer_from_spec},
    {"conv2d", cg_conv2d_from_spec},
    {"maxpool", cg_max_pool_from_spec},
    {"avgpool", cg_avg_pool_from_spec},
    {"globalavgpool", cg_global_avg_pool_from_spec},
};
enum { BUILT_IN_TYPE_COUNT = (int)(sizeof BUILT_IN_TYPES / sizeof BUILT_IN_TYPES[0]) };

/* Process-wide, like a plug-in table: register types at start-up, before threads parse specs. */
static layer_type registered_types[MAX_REGISTERED_TYPES];
static int registered_type_count;

/* ----- argument reading, shared with the built-in factories ----- */

bool cg_spec_next_word(const char **cursor, char *word, size_t size) {
    const char *p = *cursor;
    while (isspace((unsigned char)*p))
        p++;
    size_t length = 0;
    while (*p && !isspace((unsigned char)*p)) {
        if (length + 1 < size) word[length++] = *p;
        p++;
    }
    if (size) word[length < size ? length : size - 1] = '\0';
    *cursor = p;
    return length > 0;
}

int cg_spec_positive_integer(const char *type, const char *what, const char *word, int64_t *value) {
    char *end = NULL;
    errno = 0;
    const long long parsed = word[0] ? strtoll(word, &end, 10) : 0;
    if (!word[0] || *end || errno || parsed <= 0) {
        cg_error_set("%s expects %s, got %s%s%s", type, what, word[0] ? "'" : "",
                     word[0] ? word : "nothing", word[0] ? "'" : "");
        return -1;
    }
    *value = parsed;
    return 0;
}

int cg_spec_expect_end(const char *cursor, const char *type, const char *usage) {
    char word[64];
    if (!cg_spec_next_word(&cursor, word, sizeof word)) return 0;
    cg_error_set("%s takes %s; unexpected '%s'", type, usage, word);
    return -1;
}

/* ----- the table of layer types ----- */

static cg_layer_factory find_factory(const char *name) {
    for (int i = 0; i < BUILT_IN_TYPE_COUNT; i++)
        if (strcmp(BUILT_IN_TYPES[i].name, name) == 0) return BUILT_IN_TYPES[i].factory;
    for (int i = 0; i < registered_type_count; i++)
        if (strcmp(registered_types[i].name, name) == 0) return registered_types[i].factory;
    return NULL;
}

static bool is_activation_name(const char *name) {
    for (int i = 0; i < CG_ACTIVATION_COUNT; i++)
        if (strcmp(name, cg_activation_name((cg_activation)i)) == 0) return true;
    return false;
}

int cg_layer_register(const char *name, cg_layer_factory factory) {
    bool valid_name = name && name[0] && strlen(name) < CG_NAME_MAX;
    for (const char *p = name; valid_name && *p; p++)
        valid_name = isalnum((unsigned char)*p) || *p == '_';
    if (!valid_name || !factory) {
        cg_error_set("cg_layer_register: needs a factory and a name of letters, digits and _ "
                     "(at most %d), got '%s'",
                     CG_NAME_MAX - 1, name ? name : "(null)");
        return -1;
    }
    bool built_in = strcmp(name, "input") == 0 || is_activation_name(name);
    for (int i = 0; i < BUILT_IN_TYPE_COUNT; i++)
        built_in = built_in || strcmp(BUILT_IN_TYPES[i].name, name) == 0;
    if (built_in) {
        cg_error_set("cg_layer_register: '%s' is a built-in spec word", name);
        return -1;
    }
    for (int i = 0; i < registered_type_count; i++) {
        if (strcmp(registered_types[i].name, name) == 0) {
            registered_types[i].factory = factory;
            return 0;
        }
    }
    if (registered_type_count == MAX_REGISTERED_TYPES) {
        cg_error_set("cg_layer_register: no room for '%s' (at most %d types)", name,
                     MAX_REGISTERED_TYPES);
        return -1;
    }
    layer_type *entry = &registered_types[registered_type_count++];
    snprintf(entry->name, sizeof entry->name, "%s", name);
    entry->factory = factory;
    return 0;
}

/* ----- parsing ----- */

typedef struct {
    const char *source; /* "spec" or the file's path, for messages */
    int line_number;
    cg_layer **layers;
    int layer_count, layer_capacity;
    bool has_input;
    cg_shape input_shape;
} spec_parser;

/* Rewrites the current error as "SOURCE line N: message". */
static void blame_line(const spec_parser *parser) {
    char message[768];
    snprintf(message, sizeof message, "%s", cg_last_error());
    cg_error_set("%s line %d: %s", parser->source, parser->line_number, message);
}

static const char SAMPLE_SHAPE[] = "the sample shape as positive integers (N or C H W)";

static int parse_input_line(spec_parser *parser, const char *arguments) {
    char word[64];
    cg_shape shape = {0};
    while (cg_spec_next_word(&arguments, word, sizeof word)) {
        if (shape.ndim == CG_MAX_DIMS - 1) {
            cg_error_set("input takes at most %d sizes; unexpected '%s'", CG_MAX_DIMS - 1, word);
            return -1;
        }
        if (cg_spec_positive_integer("input", SAMPLE_SHAPE, word, &shape.dims[shape.ndim++]) != 0)
            return -1;
    }
    if (shape.ndim == 0) {
        cg_error_set("input expects %s, got nothing", SAMPLE_SHAPE);
        return -1;
    }
    /* A sample is a tensor: its size must stay within what a tensor can hold, or the layers'
     * size arithmetic (flatten multiplies the sizes) overflows. */
    int64_t elements = 1;
    for (int d = 0; d < shape.ndim; d++) {
        if (__builtin_mul_overflow(elements, shape.dims[d], &elements) ||
            elements > INT64_MAX / 8) {
            cg_error_set("input sizes %s make a sample too large for a tensor",
                         cg_dims_text(shape.ndim, shape.dims));
            return -1;
        }
    }
    parser->has_input = true;
    parser->input_shape = shape;
    return 0;
}

static int append_layer(spec_parser *parser, cg_layer *layer) {
    if (parser->layer_count == parser->layer_capacity) {
        const int capacity = parser->layer_capacity ? parser->layer_capacity * 2 : 8;
        cg_layer **layers = realloc(parser->layers, sizeof *layers * (size_t)capacity);
        if (!layers) {
            cg_layer_free(layer);
            cg_error_set("out of memory");
            return -1;
        }
        parser->layers = layers;
        parser->layer_capacity = capacity;
    }
    parser->layers[parser->layer_count++] = layer;
    return 0;
}

/* Parses one line with its comment removed; blank lines are skipped. */
static int parse_line(spec_parser *parser, const char *line) {
    char type[CG_NAME_MAX];
    const char *arguments = line;
    if (!cg_spec_next_word(&arguments, type, sizeof type)) return 0;
    const bool first = parser->layer_count == 0 && !parser->has_input;
    if (strcmp(type, "input") == 0) {
        if (first) return parse_input_line(parser, arguments);
        cg_error_set("input must be the first line of the spec");
        return -1;
    }
    while (isspace((unsigned char)*arguments))
        arguments++;
    cg_layer_factory factory = find_factory(type);
    if (!factory && is_activation_name(type)) {
        /* A bare activation ("relu") is the line "activation relu". */
        factory = cg_activation_layer_from_spec;
        arguments = line;
    }
    if (!factory) {
        cg_error_set("unknown layer type '%s' (expected dense, conv2d, maxpool, avgpool, "
                     "globalavgpool, dropout, flatten, batchnorm, activation, an activation name "
                     "or a type registered with cg_layer_register)",
                     type);
        return -1;
    }
    cg_clear_error();
    cg_layer *layer = factory(arguments);
    if (!layer && !cg_last_error()[0])
        cg_error_set("the %s factory failed on '%s' without saying why", type, arguments);
    return layer ? append_layer(parser, layer) : -1;
}

static int parse_lines(spec_parser *parser, const char *text) {
    const char *p = text;
    while (*p) {
        parser->line_number++;
        const size_t length = strcspn(p, "\n");
        if (length >= MAX_LINE) {
            cg_error_set("the line is longer than %d characters", MAX_LINE - 1);
            return -1;
        }
        char line[MAX_LINE];
        memcpy(line, p, length);
        line[length] = '\0';
        line[strcspn(line, "#")] = '\0';
        if (parse_line(parser, line) != 0) return -1;
        p += length + (p[length] == '\n');
    }
    return 0;
}

static cg_model *parse_spec(const char *text, const char *source) {
    spec_parser parser = {.source = source};
    cg_model *model = NULL;
    if (parse_lines(&parser, text) != 0) {
        blame_line(&parser);
    } else if (parser.layer_count == 0) {
        cg_error_set("%s: no layers", source);
    } else {
        model = cg_sequential_of(parser.layers, parser.layer_count);
        parser.layer_count = 0; /* the model owns them, even when it failed */
        if (model && parser.has_input && cg_model_build(model, parser.input_shape) != 0) {
            cg_model_free(model);
            model = NULL;
        }
    }
    for (int i = 0; i < parser.layer_count; i++)
        cg_layer_free(parser.layers[i]);
    free(parser.layers);
    return model;
}

cg_model *cg_model_from_spec(const char *text) {
    if (!text) {
        cg_error_set("cg_model_from_spec: no text");
        return NULL;
    }
    return parse_spec(text, "spec");
}

cg_model *cg_model_from_spec_file(const char *path) {
    FILE *file = path ? fopen(path, "rb") : NULL;
    if (!file) {
        cg_error_set("cg_model_from_spec_file: cannot open '%s': %s", path ? path : "(null)",
                     strerror(errno));
        return NULL;
    }
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    while (text) {
        size += fread(text + size, 1, capacity - size - 1, file);
        if (size < capacity - 1) break;
        capacity *= 2;
        char *grown = realloc(text, capacity);
        if (!grown) free(text);
        text = grown;
    }
    const bool read_failed = ferror(file);
    fclose(file);
    if (!text || read_failed) {
        cg_error_set("cg_model_from_spec_file: %s reading '%s'",
                     text ? "an I/O error" : "out of memory", path);
        free(text);
        return NULL;
    }
    text[size] = '\0';
    cg_model *model = parse_spec(text, path);
    free(text);
    return model;
}

/* ----- writing ----- */

typedef struct {
    char *text;
    size_t length, capacity;
} text_buffer;

static int append_text(text_buffer *buffer, const char *line) {
    const size_t length = strlen(line);
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 256;
        while (buffer->length + length + 1 > capacity)
            capacity *= 2;
        char *grown = realloc(buffer->text, capacity);
        if (!grown) {
            cg_error_set("cg_model_to_spec: out of memory");
            return -1;
        }
        buffer->text = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->text + buffer->length, line, length + 1);
    buffer->length += length;
    return 0;
}

char *cg_model_to_spec(const cg_model *model) {
    if (!model) {
        cg_error_set("cg_model_to_spec: no model");
        return NULL;
    }
    text_buffer buffer = {0};
    char line[MAX_LINE];
    int status = append_text(&buffer, "");
    if (status == 0 && model->built) {
        size_t used = (size_t)snprintf(line, sizeof line, "input");
        for (int d = 0; d < model->input_shape.ndim; d++)
            used += (size_t)snprintf(line + used, sizeof line - used, " %lld",
                                     (long long)model->input_shape.dims[d]);
        snprintf(line + used, sizeof line - used, "\n");
        status = append_text(&buffer, line);
    }
    for (int i = 0; status == 0 && i < model->layer_count; i++) {
        status = cg_layer_spec_line(model->layers[i], line, sizeof line - 1);
        if (status == 0) status = append_text(&buffer, strcat(line, "\n"));
        if (status != 0) {
            char message[768];
            snprintf(message, sizeof message, "%s", cg_last_error());
            cg_error_set("cg_model_to_spec: layer %d: %s", i, message);
        }
    }
    if (status != 0) {
        free(buffer.text);
        return NULL;
    }
    return buffer.text;
}
