/* Every op against PyTorch: the forward values and the gradients of sum(out * w) that
 * tests/fixtures/make_fixtures.py stored, checked in float64 and again in float32. A failure names
 * the fixture file, the case's line, the case and the tensor that differs. */
#include <stdarg.h>
#include <string.h>

#include "fixture.h"
#include "test.h"

/* float64 kernels should agree with PyTorch's to a few units in the last place. */
static const double FLOAT64_ATOL = 1e-10, FLOAT64_RTOL = 1e-9;
/* The float32 inputs are the float64 ones exactly (the script rounds them), so only float32
 * arithmetic separates the results from the float64 reference. */
static const double FLOAT32_ATOL = 1e-5, FLOAT32_RTOL = 1e-4;

static const char *const FAMILIES[] = {"binary", "unary", "softmax", "reduce",
                                       "matmul", "view",  "index",   "loss"};
enum { FAMILY_COUNT = sizeof FAMILIES / sizeof FAMILIES[0] };

/* One evaluation of a case in one dtype. */
typedef struct {
    const char *source; /* the fixture file, as printed in messages */
    const fixture_case *fixture;
    cg_dtype dtype;
    cg_tensor *leaves[FIXTURE_MAX_TENSORS]; /* the inputs as leaves; NULL for references */
    cg_tensor *args[FIXTURE_MAX_TENSORS];   /* what the op is given: the leaf or its transpose */
    bool malformed;                         /* the case lacks an input or attribute it needs */
} op_run;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
fail_case(const op_run *run, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    test_fail(run->source, run->fixture->line, "case %s (%s %s): %s", run->fixture->name,
              run->fixture->op, cg_dtype_name(run->dtype), message);
}

/* out, w and grad_* hold PyTorch's results; every other tensor is an input of the op. */
static bool is_reference(const char *name) {
    return strcmp(name, "out") == 0 || strcmp(name, "w") == 0 || strncmp(name, "grad_", 5) == 0;
}

static int find_input(const op_run *run, const char *name) {
    for (int i = 0; i < run->fixture->tensor_count; i++)
        if (run->args[i] && strcmp(run->fixture->tensors[i].name, name) == 0) return i;
    return -1;
}

static cg_tensor *input(op_run *run, const char *name) {
    const int i = find_input(run, name);
    if (i >= 0) return run->args[i];
    if (!run->malformed) fail_case(run, "no input tensor '%s'", name);
    run->malformed = true;
    return NULL;
}

/* The attribute, which must have count values (any number when count < 0). */
static const fixture_attr *attr(op_run *run, const char *name, int count) {
    const fixture_attr *found = fixture_find_attr(run->fixture, name);
    if (found && (count < 0 || found->count == count)) return found;
    if (!run->malformed && found)
        fail_case(run, "attribute '%s' has %d values, not %d", name, found->count, count);
    else if (!run->malformed)
        fail_case(run, "no attribute '%s'", name);
    run->malformed = true;
    return NULL;
}

static double attr_double(op_run *run, const char *name) {
    const fixture_attr *found = attr(run, name, 1);
    return found ? found->values[0] : 0.0;
}

static int64_t attr_int(op_run *run, const char *name) {
    const double value = attr_double(run, name);
    if (!isfinite(value) || value != (double)(int64_t)value) {
        fail_case(run, "attribute '%s' = %g is not an integer", name, value);
        run->malformed = true;
    }
    return (int64_t)value;
}

/* A list of dims; an empty list means every dimension. */
static cg_dims attr_dims(op_run *run, const char *name) {
    const fixture_attr *found = attr(run, name, -1);
    if (!found || found->count == 0) return CG_ALL_DIMS;
    cg_dims dims = {.count = found->count};
    for (int i = 0; i < found->count; i++)
        dims.dims[i] = (int)found->values[i];
    return dims;
}

static cg_shape attr_shape(op_run *run, const char *name) {
    const fixture_attr *found = attr(run, name, -1);
    cg_shape shape = {.ndim = found ? found->count : 0};
    for (int i = 0; i < shape.ndim; i++)
        shape.dims[i] = (int64_t)found->values[i];
    return shape;
}

static cg_reduction attr_reduction(op_run *run) {
    const cg_reduction reductions[] = {CG_REDUCTION_MEAN, CG_REDUCTION_SUM, CG_REDUCTION_NONE};
    const int64_t code = attr_int(run, "reduction");
    if (code >= 0 && code < 3) return reductions[code];
    fail_case(run, "reduction %lld is not 0 (mean), 1 (sum) or 2 (none)", (long long)code);
    run->malformed = true;
    return CG_REDUCTION_MEAN;
}

/* ----- how each op is called from a case ----- */

typedef struct op_entry op_entry;
struct op_entry {
    const char *name;
    cg_tensor *(*build)(op_run *run, const op_entry *op);
    union {
        cg_tensor *(*unary)(const cg_tensor *);
        cg_tensor *(*binary)(const cg_tensor *, const cg_tensor *);
        cg_tensor *(*with_scalar)(const cg_tensor *, double);
        cg_tensor *(*along_dim)(const cg_tensor *, int);
        cg_tensor *(*reduce)(const cg_tensor *, cg_dims, bool);
        cg_tensor *(*to_shape)(const cg_tensor *, cg_shape);
        cg_tensor *(*join)(cg_tensor *const *, int, int);
        cg_tensor *(*index)(const cg_tensor *, int, const cg_tensor *);
        cg_tensor *(*loss)(const cg_tensor *, const cg_tensor *, cg_reduction);
    } fn;
    const char *scalar_attr; /* the attribute with_scalar ops read */
};

static cg_tensor *build_unary(op_run *run, const op_entry *op) {
    return op->fn.unary(input(run, "x"));
}

static cg_tensor *build_binary(op_run *run, const op_entry *op) {
    return op->fn.binary(input(run, "a"), input(run, "b"));
}

static cg_tensor *build_with_scalar(op_run *run, const op_entry *op) {
    return op->fn.with_scalar(input(run, "x"), attr_double(run, op->scalar_attr));
}

static cg_tensor *build_along_dim(op_run *run, const op_entry *op) {
    return op->fn.along_dim(input(run, "x"), (int)attr_int(run, "dim"));
}

static cg_tensor *build_reduce(op_run *run, const op_entry *op) {
    return op->fn.reduce(input(run, "x"), attr_dims(run, "dims"), attr_int(run, "keepdim") != 0);
}

static cg_tensor *build_to_shape(op_run *run, const op_entry *op) {
    return op->fn.to_shape(input(run, "x"), attr_shape(run, "shape"));
}

/* The inputs x0, x1, ... joined along dim. */
static cg_tensor *build_join(op_run *run, const op_entry *op) {
    cg_tensor *tensors[FIXTURE_MAX_TENSORS];
    int count = 0;
    for (char name[16]; count < FIXTURE_MAX_TENSORS; count++) {
        snprintf(name, sizeof name, "x%d", count);
        const int i = find_input(run, name);
        if (i < 0) break;
        tensors[count] = run->args[i];
    }
    return op->fn.join(tensors, count, (int)attr_int(run, "dim"));
}

static cg_tensor *build_index(op_run *run, const op_entry *op) {
    return op->fn.index(input(run, "x"), (int)attr_int(run, "dim"), input(run, "index"));
}

static cg_tensor *build_loss(op_run *run, const op_entry *op) {
    return op->fn.loss(input(run, "input"), input(run, "target"), attr_reduction(run));
}

static cg_tensor *build_where(op_run *run, const op_entry *op) {
    (void)op;
    return cg_where(input(run, "cond"), input(run, "a"), input(run, "b"));
}

static cg_tensor *build_clamp(op_run *run, const op_entry *op) {
    (void)op;
    return cg_clamp(input(run, "x"), attr_double(run, "min"), attr_double(run, "max"));
}

static cg_tensor *build_var(op_run *run, const op_entry *op) {
    (void)op;
    return cg_var(input(run, "x"), attr_dims(run, "dims"), attr_int(run, "unbiased") != 0,
                  attr_int(run, "keepdim") != 0);
}

static cg_tensor *build_argmax(op_run *run, const op_entry *op) {
    (void)op;
    return cg_argmax(input(run, "x"), (int)attr_int(run, "dim"), attr_int(run, "keepdim") != 0);
}

static cg_tensor *build_flatten(op_run *run, const op_entry *op) {
    (void)op;
    return cg_flatten(input(run, "x"), (int)attr_int(run, "start_dim"),
                      (int)attr_int(run, "end_dim"));
}

static cg_tensor *build_transpose(op_run *run, const op_entry *op) {
    (void)op;
    return cg_transpose(input(run, "x"), (int)attr_int(run, "dim0"), (int)attr_int(run, "dim1"));
}

static cg_tensor *build_permute(op_run *run, const op_entry *op) {
    (void)op;
    return cg_permute(input(run, "x"), attr_dims(run, "dims"));
}

static cg_tensor *build_slice(op_run *run, const op_entry *op) {
    (void)op;
    return cg_slice(input(run, "x"), (int)attr_int(run, "dim"), attr_int(run, "start"),
                    attr_int(run, "end"), attr_int(run, "step"));
}

static cg_tensor *build_narrow(op_run *run, const op_entry *op) {
    (void)op;
    return cg_narrow(input(run, "x"), (int)attr_int(run, "dim"), attr_int(run, "start"),
                     attr_int(run, "length"));
}

static cg_tensor *build_one_hot(op_run *run, const op_entry *op) {
    (void)op;
    return cg_one_hot(input(run, "labels"), attr_int(run, "num_classes"), run->dtype);
}

static const op_entry OPS[] = {
    {"add", build_binary, {.binary = cg_add}, NULL},
    {"sub", build_binary, {.binary = cg_sub}, NULL},
    {"mul", build_binary, {.binary = cg_mul}, NULL},
    {"div", build_binary, {.binary = cg_div}, NULL},
    {"pow", build_binary, {.binary = cg_pow}, NULL},
    {"maximum", build_binary, {.binary = cg_maximum}, NULL},
    {"minimum", build_binary, {.binary = cg_minimum}, NULL},
    {"eq", build_binary, {.binary = cg_eq}, NULL},
    {"ne", build_binary, {.binary = cg_ne}, NULL},
    {"lt", build_binary, {.binary = cg_lt}, NULL},
    {"le", build_binary, {.binary = cg_le}, NULL},
    {"gt", build_binary, {.binary = cg_gt}, NULL},
    {"ge", build_binary, {.binary = cg_ge}, NULL},
    {"add_scalar", build_with_scalar, {.with_scalar = cg_add_scalar}, "scalar"},
    {"mul_scalar", build_with_scalar, {.with_scalar = cg_mul_scalar}, "scalar"},
    {"pow_scalar", build_with_scalar, {.with_scalar = cg_pow_scalar}, "scalar"},
    {"where", build_where, {NULL}, NULL},
    {"neg", build_unary, {.unary = cg_neg}, NULL},
    {"exp", build_unary, {.unary = cg_exp}, NULL},
    {"log", build_unary, {.unary = cg_log}, NULL},
    {"sqrt", build_unary, {.unary = cg_sqrt}, NULL},
    {"abs", build_unary, {.unary = cg_abs}, NULL},
    {"clamp", build_clamp, {NULL}, NULL},
    {"sigmoid", build_unary, {.unary = cg_sigmoid}, NULL},
    {"tanh", build_unary, {.unary = cg_tanh}, NULL},
    {"relu", build_unary, {.unary = cg_relu}, NULL},
    {"leaky_relu", build_with_scalar, {.with_scalar = cg_leaky_relu}, "slope"},
    {"elu", build_with_scalar, {.with_scalar = cg_elu}, "alpha"},
    {"gelu", build_unary, {.unary = cg_gelu}, NULL},
    {"softplus", build_unary, {.unary = cg_softplus}, NULL},
    {"softmax", build_along_dim, {.along_dim = cg_softmax}, NULL},
    {"log_softmax", build_along_dim, {.along_dim = cg_log_softmax}, NULL},
    {"sum", build_reduce, {.reduce = cg_sum}, NULL},
    {"mean", build_reduce, {.reduce = cg_mean}, NULL},
    {"max", build_reduce, {.reduce = cg_max}, NULL},
    {"min", build_reduce, {.reduce = cg_min}, NULL},
    {"logsumexp", build_reduce, {.reduce = cg_logsumexp}, NULL},
    {"var", build_var, {NULL}, NULL},
    {"argmax", build_argmax, {NULL}, NULL},
    {"matmul", build_binary, {.binary = cg_matmul}, NULL},
    {"reshape", build_to_shape, {.to_shape = cg_reshape}, NULL},
    {"view", build_to_shape, {.to_shape = cg_view}, NULL},
    {"expand", build_to_shape, {.to_shape = cg_expand}, NULL},
    {"flatten", build_flatten, {NULL}, NULL},
    {"transpose", build_transpose, {NULL}, NULL},
    {"permute", build_permute, {NULL}, NULL},
    {"slice", build_slice, {NULL}, NULL},
    {"narrow", build_narrow, {NULL}, NULL},
    {"squeeze", build_along_dim, {.along_dim = cg_squeeze}, NULL},
    {"squeeze_all", build_unary, {.unary = cg_squeeze_all}, NULL},
    {"unsqueeze", build_along_dim, {.along_dim = cg_unsqueeze}, NULL},
    {"contiguous", build_unary, {.unary = cg_contiguous}, NULL},
    {"clone", build_unary, {.unary = cg_clone}, NULL},
    {"concat", build_join, {.join = cg_concat}, NULL},
    {"stack", build_join, {.join = cg_stack}, NULL},
    {"gather", build_index, {.index = cg_gather}, NULL},
    {"index_select", build_index, {.index = cg_index_select}, NULL},
    {"one_hot", build_one_hot, {NULL}, NULL},
    {"mse_loss", build_loss, {.loss = cg_mse_loss}, NULL},
    {"l1_loss", build_loss, {.loss = cg_l1_loss}, NULL},
    {"bce_with_logits", build_loss, {.loss = cg_bce_with_logits}, NULL},
    {"cross_entropy", build_loss, {.loss = cg_cross_entropy}, NULL},
};
enum { OP_COUNT = sizeof OPS / sizeof OPS[0] };

static const op_entry *find_op(const char *name) {
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(OPS[i].name, name) == 0) return &OPS[i];
    return NULL;
}

/* ----- running a case ----- */

/* Makes a leaf of run->dtype from every float input (int inputs are used as they are), marks it
 * as requiring grad when the case has its gradient, and applies any transpose_IN attribute. */
static void prepare_inputs(op_run *run) {
    for (int i = 0; i < run->fixture->tensor_count && !run->malformed; i++) {
        const fixture_tensor *entry = &run->fixture->tensors[i];
        if (is_reference(entry->name)) continue;
        const bool is_float = cg_tensor_dtype(entry->tensor) == CG_FLOAT64;
        cg_tensor *leaf = is_float ? cg_to_dtype(entry->tensor, run->dtype) : entry->tensor;
        char name[FIXTURE_NAME_SIZE + 16];
        snprintf(name, sizeof name, "grad_%s", entry->name);
        if (fixture_find_tensor(run->fixture, name)) cg_set_requires_grad(leaf, true);
        run->leaves[i] = run->args[i] = leaf;
        snprintf(name, sizeof name, "transpose_%s", entry->name);
        if (fixture_find_attr(run->fixture, name)) {
            const fixture_attr *dims = attr(run, name, 2);
            if (dims) run->args[i] = cg_transpose(leaf, (int)dims->values[0], (int)dims->values[1]);
        }
    }
}

static bool same_shape(const cg_tensor *a, const cg_tensor *b) {
    const cg_shape sa = cg_tensor_shape(a), sb = cg_tensor_shape(b);
    return sa.ndim == sb.ndim && memcmp(sa.dims, sb.dims, sizeof(int64_t) * (size_t)sa.ndim) == 0;
}

/* Compares actual with PyTorch's expected tensor: shape, dtype (float references stand for the
 * run's dtype) and values. */
static bool check_matches(const op_run *run, const char *what, const cg_tensor *actual,
                          const cg_tensor *expected) {
    char have[64], want[64];
    if (!actual) {
        fail_case(run, "%s: no tensor (%s)", what, cg_last_error());
        return false;
    }
    if (!same_shape(actual, expected)) {
        fail_case(run, "%s has shape %s, PyTorch's has %s", what,
                  cg_shape_format(cg_tensor_shape(actual), have, sizeof have),
                  cg_shape_format(cg_tensor_shape(expected), want, sizeof want));
        return false;
    }
    const bool float_reference = cg_tensor_dtype(expected) == CG_FLOAT64;
    const cg_dtype dtype = float_reference ? run->dtype : cg_tensor_dtype(expected);
    if (cg_tensor_dtype(actual) != dtype) {
        fail_case(run, "%s is %s, expected %s", what, cg_dtype_name(cg_tensor_dtype(actual)),
                  cg_dtype_name(dtype));
        return false;
    }
    const bool float64 = run->dtype == CG_FLOAT64;
    if (test_tensor_close(actual, expected, float64 ? FLOAT64_ATOL : FLOAT32_ATOL,
                          float64 ? FLOAT64_RTOL : FLOAT32_RTOL, run->source, run->fixture->line))
        return true;
    fail_case(run, "%s differs from PyTorch (elements above)", what);
    return false;
}

/* Back-propagates w from out and compares the gradient of every input that has one stored. */
static void check_gradients(op_run *run, cg_tensor *out, const cg_tensor *w) {
    if (cg_backward_with(out, cg_to_dtype(w, run->dtype)) != 0) {
        fail_case(run, "backward failed: %s", cg_last_error());
        return;
    }
    for (int i = 0; i < run->fixture->tensor_count; i++) {
        if (!run->leaves[i] || !cg_requires_grad(run->leaves[i])) continue;
        char name[FIXTURE_NAME_SIZE + 16];
        snprintf(name, sizeof name, "grad_%s", run->fixture->tensors[i].name);
        const cg_tensor *grad = cg_grad(run->leaves[i]);
        if (!grad)
            fail_case(run, "no gradient reached input '%s'", run->fixture->tensors[i].name);
        else
            check_matches(run, name, grad, fixture_find_tensor(run->fixture, name));
    }
}

static void check_case(const char *source, const fixture_case *fixture, cg_dtype dtype) {
    op_run run = {.source = source, .fixture = fixture, .dtype = dtype};
    const op_entry *op = find_op(fixture->op);
    if (!op) {
        fail_case(&run, "unknown op '%s'", fixture->op);
        return;
    }
    const cg_tensor *expected = fixture_find_tensor(fixture, "out");
    if (!expected) {
        fail_case(&run, "no 'out' tensor");
        return;
    }
    prepare_inputs(&run);
    cg_clear_error();
    cg_tensor *out = run.malformed ? NULL : op->build(&run, op);
    if (run.malformed || !check_matches(&run, "out", out, expected)) return;
    const cg_tensor *w = fixture_find_tensor(fixture, "w");
    if (w) check_gradients(&run, out, w);
}

static void check_family(const char *family) {
    char source[64];
    snprintf(source, sizeof source, "tests/fixtures/%s.txt", family);
    fixture_file *file = fixture_load(test_source_path(source));
    CHECK(file != NULL);
    if (file->case_count == 0) test_fail(source, 0, "no cases");
    const cg_dtype dtypes[] = {CG_FLOAT64, CG_FLOAT32};
    for (int i = 0; i < file->case_count; i++) {
        for (int d = 0; d < 2; d++) {
            cg_scope_begin();
            check_case(source, &file->cases[i], dtypes[d]);
            cg_scope_end();
        }
    }
    fixture_free(file);
}

TEST(fixtures_binary) { check_family("binary"); }
TEST(fixtures_unary) { check_family("unary"); }
TEST(fixtures_softmax) { check_family("softmax"); }
TEST(fixtures_reduce) { check_family("reduce"); }
TEST(fixtures_matmul) { check_family("matmul"); }
TEST(fixtures_view) { check_family("view"); }
TEST(fixtures_index) { check_family("index"); }
TEST(fixtures_loss) { check_family("loss"); }

/* Every op the table knows has at least one case, so a family cannot lose an op silently. */
TEST(fixtures_cover_every_op) {
    bool covered[OP_COUNT] = {false};
    for (int f = 0; f < FAMILY_COUNT; f++) {
        char source[64];
        snprintf(source, sizeof source, "tests/fixtures/%s.txt", FAMILIES[f]);
        fixture_file *file = fixture_load(test_source_path(source));
        CHECK(file != NULL);
        for (int i = 0; i < file->case_count; i++) {
            const op_entry *op = find_op(file->cases[i].op);
            if (op) covered[op - OPS] = true;
        }
        fixture_free(file);
    }
    for (int i = 0; i < OP_COUNT; i++)
        if (!covered[i]) test_fail(__FILE__, __LINE__, "no fixture case for op %s", OPS[i].name);
}

/* ----- the loader ----- */

TEST(fixture_parse_reads_cases_attributes_and_tensors) {
    const char *text = "# comment\n"
                       "\n"
                       "case first add\n"
                       "attr dims -1 0\n"
                       "attr keepdim 1\n"
                       "attr empty\n"
                       "tensor a float64 2 2 1 : 1.5 -inf\n"
                       "tensor s float64 0 : 0.25\n"
                       "case second one_hot\n"
                       "tensor labels int64 1 3 : 2 0 -7\n"
                       "tensor index int32 1 1 : 5\n";
    fixture_file *file = fixture_parse(text, "inline");
    CHECK(file != NULL);
    const bool shape_ok = file->case_count == 2 && strcmp(file->cases[0].name, "first") == 0 &&
                          strcmp(file->cases[1].op, "one_hot") == 0 && file->cases[1].line == 9;
    const fixture_attr *dims = fixture_find_attr(&file->cases[0], "dims");
    const fixture_attr *empty = fixture_find_attr(&file->cases[0], "empty");
    cg_tensor *a = fixture_find_tensor(&file->cases[0], "a");
    cg_tensor *s = fixture_find_tensor(&file->cases[0], "s");
    cg_tensor *labels = fixture_find_tensor(&file->cases[1], "labels");
    cg_tensor *index = fixture_find_tensor(&file->cases[1], "index");
    const bool found = dims && empty && a && s && labels && index &&
                       !fixture_find_tensor(&file->cases[0], "labels");
    const int64_t a1[2] = {1, 0}, l2[1] = {2};
    const bool values_ok =
        found && dims->count == 2 && dims->values[0] == -1 && dims->values[1] == 0 &&
        empty->count == 0 && cg_ndim(a) == 2 && cg_dim(a, 0) == 2 && cg_get(a, a1) == -INFINITY &&
        cg_ndim(s) == 0 && cg_item(s) == 0.25 && cg_tensor_dtype(labels) == CG_INT64 &&
        cg_get(labels, l2) == -7 && cg_tensor_dtype(index) == CG_INT32 && cg_item(index) == 5;
    fixture_free(file);
    CHECK(shape_ok);
    CHECK(values_ok);
}

TEST(fixture_parse_reports_file_and_line_of_malformed_input) {
    CHECK_ERROR(fixture_parse("case a add\nfrobnicate x\n", "bad.txt"),
                "bad.txt:2: unknown line kind 'frobnicate'");
    CHECK_ERROR(fixture_parse("attr dim 0\n", "bad.txt"), "bad.txt:1: 'attr' line before");
    CHECK_ERROR(fixture_parse("case a add\ntensor x float64 2 2 2 : 1 2 3\n", "bad.txt"),
                "bad.txt:2: 3 values, the sizes give 4");
    CHECK_ERROR(fixture_parse("case a add\ntensor x float64 1 2 : 1 2 3\n", "bad.txt"),
                "bad.txt:2: more than the 2 values");
    CHECK_ERROR(fixture_parse("case a add\ntensor x float16 1 1 : 1\n", "bad.txt"),
                "bad.txt:2: unknown dtype 'float16'");
    CHECK_ERROR(fixture_parse("case a add\ntensor x float64 1 2 1 2\n", "bad.txt"),
                "bad.txt:2: expected ':'");
    CHECK_ERROR(fixture_parse("case a add\n\ntensor x float64 1 1 : 1x\n", "bad.txt"),
                "bad.txt:3: '1x' is not a number");
    CHECK_ERROR(fixture_parse("case a add\ntensor x int64 1 1 : 1.5\n", "bad.txt"),
                "bad.txt:2: '1.5' is not an integer");
    CHECK_ERROR(fixture_parse("case a add\ntensor x int32 1 1 : 3000000000\n", "bad.txt"),
                "bad.txt:2: 3000000000 is outside");
    CHECK_ERROR(fixture_parse("case a add\ntensor x float64 9 1 1 1 1 1 1 1 1 1 : 1\n", "bad.txt"),
                "bad.txt:2: 9 is outside");
    CHECK_ERROR(fixture_parse("case a add\nattr k 1\nattr k 2\n", "bad.txt"),
                "bad.txt:3: attribute 'k' appears twice");
    CHECK_ERROR(
        fixture_parse("case a add\ntensor x float64 0 : 1\ntensor x float64 0 : 2\n", "bad.txt"),
        "bad.txt:3: tensor 'x' appears twice");
    CHECK_ERROR(fixture_parse("case a add\ncase a sub\n", "bad.txt"),
                "bad.txt:2: case 'a' repeats the one on line 1");
    CHECK_ERROR(fixture_parse("case a\n", "bad.txt"), "bad.txt:1: missing op name");
    CHECK_ERROR(fixture_parse("case a add extra\n", "bad.txt"), "bad.txt:1: unexpected 'extra'");
    CHECK_ERROR(fixture_load("tests/fixtures/no-such-file.txt"), "no-such-file.txt: cannot open");
}
