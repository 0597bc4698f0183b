/* Tensors: creation, views sharing storage, element access, copying out, printing, the random
 * generator, in-place updates, comparisons and where. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Copies t (any dtype, any layout) into a new double array; NULL on failure. */
static double *values_of(const cg_tensor *t) {
    const int64_t n = cg_numel(t);
    double *values = malloc(sizeof(double) * (size_t)(n ? n : 1));
    cg_scope_begin();
    const bool ok = values && cg_copy_to_array(cg_to_dtype(t, CG_FLOAT64), values,
                                               sizeof(double) * (size_t)n) == 0;
    cg_scope_end();
    if (!ok) {
        free(values);
        return NULL;
    }
    return values;
}

/* True when t has the given shape, dtype and values (exactly: every value here is exactly
 * representable in every dtype used). */
static bool tensor_equals(const cg_tensor *t, cg_shape shape, cg_dtype dtype, const double *want,
                          const char *what, const char *file, int line) {
    if (!t) {
        test_fail(file, line, "%s: NULL (%s)", what, cg_last_error());
        return false;
    }
    char got_text[64], want_text[64];
    cg_shape_format(cg_tensor_shape(t), got_text, sizeof got_text);
    cg_shape_format(shape, want_text, sizeof want_text);
    if (strcmp(got_text, want_text) != 0 || cg_tensor_dtype(t) != dtype) {
        test_fail(file, line, "%s: %s %s, expected %s %s", what, got_text,
                  cg_dtype_name(cg_tensor_dtype(t)), want_text, cg_dtype_name(dtype));
        return false;
    }
    double *values = values_of(t);
    bool ok = values != NULL;
    for (int64_t i = 0; ok && i < cg_numel(t); i++) {
        if (values[i] != want[i]) {
            test_fail(file, line, "%s: element %lld = %.17g, expected %.17g", what, (long long)i,
                      values[i], want[i]);
            ok = false;
        }
    }
    free(values);
    return ok;
}

#define CHECK_TENSOR_EQUALS(t, shape, dtype, ...)                                                  \
    do {                                                                                           \
        if (!tensor_equals((t), (shape), (dtype), (const double[]){__VA_ARGS__}, #t, __FILE__,     \
                           __LINE__))                                                              \
            return;                                                                                \
    } while (0)

/* ----- creation ----- */

TEST(constant_tensors_in_every_dtype) {
    for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
        if (dtype == CG_UINT8) continue; /* negative values: see test_uint8.c */
        cg_scope_begin();
        CHECK_TENSOR_EQUALS(cg_zeros(CG_SHAPE(2, 3), dtype), CG_SHAPE(2, 3), dtype, 0, 0, 0, 0, 0,
                            0);
        CHECK_TENSOR_EQUALS(cg_ones(CG_SHAPE(3), dtype), CG_SHAPE(3), dtype, 1, 1, 1);
        CHECK_TENSOR_EQUALS(cg_full(CG_SHAPE(2, 1), -7, dtype), CG_SHAPE(2, 1), dtype, -7, -7);
        CHECK_TENSOR_EQUALS(cg_scalar(5, dtype), CG_SCALAR_SHAPE, dtype, 5);
        CHECK_TENSOR_EQUALS(cg_eye(3, dtype), CG_SHAPE(3, 3), dtype, 1, 0, 0, 0, 1, 0, 0, 0, 1);
        cg_tensor *model = cg_full(CG_SHAPE(2, 2), 9, dtype);
        CHECK_TENSOR_EQUALS(cg_zeros_like(model), CG_SHAPE(2, 2), dtype, 0, 0, 0, 0);
        CHECK_TENSOR_EQUALS(cg_ones_like(model), CG_SHAPE(2, 2), dtype, 1, 1, 1, 1);
        cg_scope_end();
    }
}

TEST(empty_and_scalar_shapes) {
    cg_scope_begin();
    cg_tensor *empty = cg_zeros(CG_SHAPE(0, 3), CG_FLOAT32);
    CHECK(empty && cg_numel(empty) == 0 && cg_ndim(empty) == 2 && cg_dim(empty, 1) == 3);
    cg_tensor *scalar = cg_scalar(2.5, CG_FLOAT64);
    CHECK(cg_ndim(scalar) == 0 && cg_numel(scalar) == 1);
    CHECK_NEAR(cg_item(scalar), 2.5, 0);
    CHECK(cg_eye(0, CG_FLOAT32) && cg_numel(cg_eye(0, CG_FLOAT32)) == 0);
    cg_scope_end();
}

TEST(ranges) {
    cg_scope_begin();
    CHECK_TENSOR_EQUALS(cg_arange(0, 5, 1, CG_INT64), CG_SHAPE(5), CG_INT64, 0, 1, 2, 3, 4);
    CHECK_TENSOR_EQUALS(cg_arange(1, 2, 0.25, CG_FLOAT64), CG_SHAPE(4), CG_FLOAT64, 1, 1.25, 1.5,
                        1.75);
    CHECK_TENSOR_EQUALS(cg_arange(5, 0, -2, CG_INT32), CG_SHAPE(3), CG_INT32, 5, 3, 1);
    CHECK_TENSOR_EQUALS(cg_arange(-1, 1.5, 0.5, CG_FLOAT32), CG_SHAPE(5), CG_FLOAT32, -1, -0.5, 0,
                        0.5, 1);
    CHECK(cg_numel(cg_arange(3, 3, 1, CG_FLOAT32)) == 0);
    CHECK(cg_numel(cg_arange(3, 0, 1, CG_FLOAT32)) == 0);
    CHECK_TENSOR_EQUALS(cg_linspace(0, 1, 5, CG_FLOAT64), CG_SHAPE(5), CG_FLOAT64, 0, 0.25, 0.5,
                        0.75, 1);
    CHECK_TENSOR_EQUALS(cg_linspace(2, -2, 3, CG_INT32), CG_SHAPE(3), CG_INT32, 2, 0, -2);
    CHECK_TENSOR_EQUALS(cg_linspace(4, 9, 1, CG_FLOAT32), CG_SHAPE(1), CG_FLOAT32, 4);
    CHECK(cg_numel(cg_linspace(0, 1, 0, CG_FLOAT32)) == 0);
    /* The last value is end itself, not end less a rounding error. */
    cg_tensor *sevenths = cg_linspace(0, 1, 8, CG_FLOAT64);
    const int64_t last[1] = {7}, middle[1] = {3};
    CHECK_NEAR(cg_get(sevenths, last), 1.0, 1e-15);
    CHECK_NEAR(cg_get(sevenths, middle), 3.0 / 7.0, 1e-15);
    cg_scope_end();
}

TEST(from_array_copies_the_data) {
    int32_t ints[6] = {1, -2, 3, -4, 5, -6};
    const float floats[3] = {0.5f, -1.25f, 3e10f};
    cg_scope_begin();
    cg_tensor *t = cg_from_array(ints, CG_SHAPE(2, 3), CG_INT32);
    ints[0] = 100; /* the tensor has its own copy */
    CHECK_TENSOR_EQUALS(t, CG_SHAPE(2, 3), CG_INT32, 1, -2, 3, -4, 5, -6);
    CHECK_TENSOR_EQUALS(cg_from_array(floats, CG_SHAPE(3), CG_FLOAT32), CG_SHAPE(3), CG_FLOAT32,
                        0.5, -1.25, (double)3e10f);
    const int64_t big = INT64_C(1) << 53;
    const int64_t longs[2] = {big, -big};
    CHECK_TENSOR_EQUALS(cg_from_array(longs, CG_SHAPE(2), CG_INT64), CG_SHAPE(2), CG_INT64,
                        (double)big, -(double)big);
    cg_scope_end();
}

/* ----- views, contiguous copies and element access ----- */

TEST(views_share_storage_with_their_base) {
    cg_scope_begin();
    cg_tensor *base = cg_reshape(cg_arange(0, 12, 1, CG_FLOAT32), CG_SHAPE(3, 4));
    cg_tensor *transposed = cg_transpose(base, 0, 1);
    CHECK(!cg_is_contiguous(transposed));
    CHECK(cg_set(transposed, (const int64_t[]){1, 2}, 99) == 0);
    CHECK_NEAR(cg_get(base, (const int64_t[]){2, 1}), 99, 0);

    /* Column 1, rows 0 and 2 of base. */
    cg_tensor *stepped = cg_slice(cg_narrow(base, 1, 1, 1), 0, 0, 3, 2);
    CHECK(cg_set(stepped, (const int64_t[]){1, 0}, -5) == 0);
    CHECK_NEAR(cg_get(base, (const int64_t[]){2, 1}), -5, 0);
    CHECK_NEAR(cg_get(stepped, (const int64_t[]){0, 0}), 1, 0);

    /* Writes to the base show through every view. */
    CHECK(cg_set(base, (const int64_t[]){0, 3}, 42) == 0);
    cg_tensor *row_view = cg_view(base, CG_SHAPE(12));
    cg_tensor *expanded = cg_expand(cg_unsqueeze(base, 0), CG_SHAPE(2, 3, 4));
    CHECK_NEAR(cg_get(transposed, (const int64_t[]){3, 0}), 42, 0);
    CHECK_NEAR(cg_get(row_view, (const int64_t[]){3}), 42, 0);
    CHECK_NEAR(cg_get(expanded, (const int64_t[]){1, 0, 3}), 42, 0);
    CHECK_NEAR(cg_get(cg_permute(expanded, CG_DIMS(2, 0, 1)), (const int64_t[]){3, 1, 0}), 42, 0);
    cg_scope_end();
}

TEST(contiguous_copies_are_independent) {
    cg_scope_begin();
    cg_tensor *base = cg_reshape(cg_arange(0, 6, 1, CG_INT32), CG_SHAPE(2, 3));
    cg_tensor *copy = cg_contiguous(cg_transpose(base, 0, 1));
    CHECK(cg_is_contiguous(copy));
    CHECK_TENSOR_EQUALS(copy, CG_SHAPE(3, 2), CG_INT32, 0, 3, 1, 4, 2, 5);
    CHECK(cg_set(copy, (const int64_t[]){0, 1}, -1) == 0);
    CHECK_NEAR(cg_get(base, (const int64_t[]){1, 0}), 3, 0);

    /* Already contiguous: the result shares the data. */
    cg_tensor *same = cg_contiguous(base);
    CHECK(cg_set(same, (const int64_t[]){1, 2}, 50) == 0);
    CHECK_NEAR(cg_get(base, (const int64_t[]){1, 2}), 50, 0);

    /* clone never shares; detach always does. */
    cg_tensor *cloned = cg_clone(base), *detached = cg_detach(base);
    CHECK(cg_set(cloned, (const int64_t[]){0, 0}, 7) == 0);
    CHECK(cg_set(detached, (const int64_t[]){0, 1}, 8) == 0);
    CHECK_TENSOR_EQUALS(base, CG_SHAPE(2, 3), CG_INT32, 0, 8, 2, 3, 4, 50);
    cg_scope_end();
}

TEST(element_access_in_every_dtype) {
    for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
        if (dtype == CG_UINT8) continue; /* negative values: see test_uint8.c */
        cg_scope_begin();
        cg_tensor *t = cg_zeros(CG_SHAPE(2, 3), dtype);
        CHECK(cg_set(t, (const int64_t[]){1, 2}, -3) == 0);
        CHECK(cg_set(t, (const int64_t[]){0, 1}, 4096) == 0);
        CHECK_TENSOR_EQUALS(t, CG_SHAPE(2, 3), dtype, 0, 4096, 0, 0, 0, -3);
        CHECK_NEAR(cg_get(t, (const int64_t[]){1, 2}), -3, 0);
        CHECK_NEAR(cg_item(cg_sum(cg_to_dtype(t, CG_FLOAT64), CG_ALL_DIMS, false)), 4093, 0);
        cg_scope_end();
    }
    cg_scope_begin();
    cg_tensor *fractions = cg_zeros(CG_SHAPE(1), CG_INT32);
    CHECK(cg_set(fractions, (const int64_t[]){0}, 2.75) == 0); /* integers truncate */
    CHECK_NEAR(cg_get(fractions, (const int64_t[]){0}), 2, 0);
    cg_tensor *scalar = cg_scalar(1, CG_FLOAT32);
    CHECK(cg_set(scalar, NULL, 0.5) == 0); /* a scalar needs no index */
    CHECK_NEAR(cg_get(scalar, NULL), 0.5, 0);
    cg_scope_end();
}

TEST(copy_to_array_follows_row_major_order_of_the_view) {
    cg_scope_begin();
    cg_tensor *base = cg_reshape(cg_arange(0, 6, 1, CG_FLOAT32), CG_SHAPE(2, 3));
    float transposed[6];
    CHECK(cg_copy_to_array(cg_transpose(base, 0, 1), transposed, sizeof transposed) == 0);
    const float want_transposed[6] = {0, 3, 1, 4, 2, 5};
    CHECK(memcmp(transposed, want_transposed, sizeof transposed) == 0);

    int64_t stepped[4];
    cg_tensor *columns = cg_slice(cg_to_dtype(base, CG_INT64), 1, 0, 3, 2);
    CHECK(cg_copy_to_array(columns, stepped, sizeof stepped) == 0);
    const int64_t want_stepped[4] = {0, 2, 3, 5};
    CHECK(memcmp(stepped, want_stepped, sizeof stepped) == 0);

    double repeated[6];
    cg_tensor *row = cg_arange(1, 4, 1, CG_FLOAT64);
    CHECK(cg_copy_to_array(cg_expand(row, CG_SHAPE(2, 3)), repeated, sizeof repeated) == 0);
    const double want_repeated[6] = {1, 2, 3, 1, 2, 3};
    CHECK(memcmp(repeated, want_repeated, sizeof repeated) == 0);
    cg_scope_end();
}

/* ----- printing ----- */

/* What cg_print writes for t, as a malloc'd string (NULL on failure). */
static char *printed(const cg_tensor *t) {
    FILE *out = tmpfile();
    if (!out) return NULL;
    char *text = NULL;
    if (cg_print(t, out) == 0) {
        const long size = ftell(out);
        text = size >= 0 ? calloc((size_t)size + 1, 1) : NULL;
        rewind(out);
        if (text && fread(text, 1, (size_t)size, out) != (size_t)size) {
            free(text);
            text = NULL;
        }
    }
    fclose(out);
    return text;
}

typedef struct {
    const char *what;
    cg_tensor *(*make)(void);
    const char *must_contain[4];
    const char *must_not_contain;
} print_case;

static cg_tensor *small_matrix(void) {
    return cg_reshape(cg_arange(0, 6, 1, CG_FLOAT32), CG_SHAPE(2, 3));
}
static cg_tensor *long_vector(void) { return cg_arange(0, 2000, 1, CG_INT64); }
static cg_tensor *large_matrix(void) { return cg_ones(CG_SHAPE(40, 50), CG_FLOAT64); }
static cg_tensor *scalar_value(void) { return cg_scalar(-2.5, CG_FLOAT64); }
static cg_tensor *variable(void) {
    return cg_set_requires_grad(cg_zeros(CG_SHAPE(2), CG_FLOAT32), true);
}

TEST(print_shows_shape_dtype_values_and_elides_large_tensors) {
    const print_case cases[] = {
        {"small matrix", small_matrix, {"shape=[2x3]", "float32", "5", NULL}, "..."},
        {"long vector", long_vector, {"shape=[2000]", "int64", "...", "1999"}, "1000"},
        {"large matrix", large_matrix, {"shape=[40x50]", "float64", "...", NULL}, NULL},
        {"scalar", scalar_value, {"shape=[scalar]", "-2.5", NULL}, "\n["},
        {"variable", variable, {"requires_grad", "float32", NULL}, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cg_scope_begin();
        char *text = printed(cases[c].make());
        cg_scope_end();
        CHECK(text);
        for (int i = 0; i < 4 && cases[c].must_contain[i]; i++)
            if (!strstr(text, cases[c].must_contain[i]))
                test_fail(__FILE__, __LINE__, "%s: \"%s\" not in:\n%s", cases[c].what,
                          cases[c].must_contain[i], text);
        if (cases[c].must_not_contain && strstr(text, cases[c].must_not_contain))
            test_fail(__FILE__, __LINE__, "%s: \"%s\" unexpectedly in:\n%s", cases[c].what,
                      cases[c].must_not_contain, text);
        free(text);
    }
}

/* ----- the random generator ----- */

/* n draws of rand (kind 0), randn (1) or randint(-3, 4) (2) from the current stream. */
static double *draw(int kind, int64_t n) {
    cg_scope_begin();
    cg_tensor *t = kind == 0   ? cg_rand(CG_SHAPE(n), CG_FLOAT64)
                   : kind == 1 ? cg_randn(CG_SHAPE(n), CG_FLOAT64)
                               : cg_randint(-3, 4, CG_SHAPE(n), CG_INT64);
    double *values = t ? values_of(t) : NULL;
    cg_scope_end();
    return values;
}

TEST(same_seed_gives_same_numbers_and_different_seeds_differ) {
    for (int kind = 0; kind < 3; kind++) {
        cg_manual_seed(7);
        double *first = draw(kind, 64);
        cg_manual_seed(7);
        double *again = draw(kind, 64);
        cg_manual_seed(8);
        double *other = draw(kind, 64);
        CHECK(first && again && other);
        CHECK(memcmp(first, again, sizeof(double) * 64) == 0);
        int differences = 0;
        for (int i = 0; i < 64; i++)
            differences += first[i] != other[i];
        /* randint has 7 values, so about 1 in 7 positions agree by chance. */
        CHECK(differences > 32);
        free(first);
        free(again);
        free(other);
    }
}

TEST(draws_continue_the_stream) {
    /* Two draws of 5 and 7 are the first 12 numbers of the stream, in order. */
    cg_manual_seed(99);
    double *whole = draw(1, 12);
    cg_manual_seed(99);
    double *head = draw(1, 5), *tail = draw(1, 7);
    CHECK(whole && head && tail);
    CHECK(memcmp(whole, head, sizeof(double) * 5) == 0);
    CHECK(memcmp(whole + 5, tail, sizeof(double) * 7) == 0);
    free(whole);
    free(head);
    free(tail);
}

TEST(rng_state_restores_a_stream_exactly) {
    cg_manual_seed(2024);
    free(draw(0, 10));
    const cg_rng_state saved = cg_rng_get_state();
    double *first = draw(1, 100);
    cg_manual_seed(1); /* wander off */
    free(draw(0, 3));
    cg_rng_set_state(saved);
    double *replay = draw(1, 100);
    CHECK(first && replay);
    CHECK(memcmp(first, replay, sizeof(double) * 100) == 0);
    const cg_rng_state after = cg_rng_get_state();
    CHECK(after.seed == saved.seed && after.offset == saved.offset + 100);
    free(first);
    free(replay);
}

enum { SAMPLES = 100000 };

TEST(rand_is_uniform_in_unit_interval) {
    double *u = draw(0, SAMPLES);
    CHECK(u);
    double sum = 0, sum_squares = 0, low = 1, high = 0;
    for (int i = 0; i < SAMPLES; i++) {
        sum += u[i];
        sum_squares += u[i] * u[i];
        low = u[i] < low ? u[i] : low;
        high = u[i] > high ? u[i] : high;
    }
    free(u);
    CHECK(low >= 0 && high < 1);
    CHECK(low < 1e-3 && high > 1 - 1e-3);
    /* Mean 1/2 and variance 1/12, within 5 standard errors. */
    const double mean = sum / SAMPLES, variance = sum_squares / SAMPLES - mean * mean;
    CHECK_NEAR(mean, 0.5, 5 * sqrt(1.0 / 12 / SAMPLES));
    CHECK_NEAR(variance, 1.0 / 12, 5 * sqrt(1.0 / 180 / SAMPLES));
    cg_scope_begin();
    cg_tensor *single = cg_rand(CG_SHAPE(1000), CG_FLOAT32);
    CHECK(cg_item(cg_min(single, CG_ALL_DIMS, false)) >= 0);
    CHECK(cg_item(cg_max(single, CG_ALL_DIMS, false)) < 1);
    cg_scope_end();
}

TEST(randn_has_zero_mean_and_unit_variance) {
    double *z = draw(1, SAMPLES);
    CHECK(z);
    double sum = 0, sum_squares = 0, beyond_two_sigma = 0;
    for (int i = 0; i < SAMPLES; i++) {
        sum += z[i];
        sum_squares += z[i] * z[i];
        beyond_two_sigma += fabs(z[i]) > 2;
    }
    free(z);
    /* Standard errors: 1/sqrt(n) for the mean, sqrt(2/n) for the variance, and for the share
     * beyond 2 sigma (0.0455) sqrt(p(1-p)/n). */
    const double mean = sum / SAMPLES, variance = sum_squares / SAMPLES - mean * mean;
    CHECK_NEAR(mean, 0, 5 / sqrt(SAMPLES));
    CHECK_NEAR(variance, 1, 5 * sqrt(2.0 / SAMPLES));
    CHECK_NEAR(beyond_two_sigma / SAMPLES, 0.0455, 5 * sqrt(0.0455 * 0.9545 / SAMPLES));
}

TEST(randint_covers_its_half_open_range) {
    double *k = draw(2, SAMPLES);
    CHECK(k);
    int counts[7] = {0};
    bool in_range = true;
    for (int i = 0; i < SAMPLES; i++) {
        in_range = in_range && k[i] >= -3 && k[i] < 4 && k[i] == floor(k[i]);
        if (in_range) counts[(int)k[i] + 3]++;
    }
    free(k);
    CHECK(in_range);
    const double expected = SAMPLES / 7.0, tolerance = 5 * sqrt(expected * (1 - 1 / 7.0));
    for (int v = 0; v < 7; v++)
        CHECK_NEAR(counts[v], expected, tolerance);
    cg_scope_begin();
    cg_tensor *coin = cg_randint(0, 1, CG_SHAPE(50), CG_INT32); /* one value only */
    CHECK_NEAR(cg_item(cg_sum(cg_to_dtype(coin, CG_FLOAT64), CG_ALL_DIMS, false)), 0, 0);
    cg_scope_end();
}

/* ----- in-place updates ----- */

TEST(add_scaled_broadcasts_the_source) {
    cg_scope_begin();
    cg_tensor *dst = cg_reshape(cg_arange(0, 6, 1, CG_FLOAT64), CG_SHAPE(2, 3));
    cg_tensor *row = cg_from_array((const double[]){1, 2, 4}, CG_SHAPE(3), CG_FLOAT64);
    CHECK(cg_add_scaled_(dst, row, -0.5) == 0);
    CHECK_TENSOR_EQUALS(dst, CG_SHAPE(2, 3), CG_FLOAT64, -0.5, 0, 0, 2.5, 3, 3);
    CHECK(cg_add_scaled_(dst, cg_scalar(2, CG_FLOAT64), 1.0) == 0);
    CHECK_TENSOR_EQUALS(dst, CG_SHAPE(2, 3), CG_FLOAT64, 1.5, 2, 2, 4.5, 5, 5);
    /* Into a strided view: only the viewed elements change. */
    CHECK(cg_add_scaled_(cg_transpose(dst, 0, 1), cg_ones(CG_SHAPE(3, 1), CG_FLOAT64), 10) == 0);
    CHECK_TENSOR_EQUALS(dst, CG_SHAPE(2, 3), CG_FLOAT64, 11.5, 12, 12, 14.5, 15, 15);
    cg_tensor *every_other = cg_slice(dst, 1, 0, 3, 2);
    CHECK(cg_add_scaled_(every_other, every_other, 1) == 0); /* source aliasing destination */
    CHECK_TENSOR_EQUALS(dst, CG_SHAPE(2, 3), CG_FLOAT64, 23, 12, 24, 29, 15, 30);
    cg_scope_end();
}

TEST(copy_converts_and_broadcasts) {
    cg_scope_begin();
    cg_tensor *dst = cg_zeros(CG_SHAPE(2, 3), CG_INT32);
    cg_tensor *column = cg_from_array((const double[]){1.9, -2.9}, CG_SHAPE(2, 1), CG_FLOAT64);
    CHECK(cg_copy_(dst, column) == 0); /* float to int truncates toward zero */
    CHECK_TENSOR_EQUALS(dst, CG_SHAPE(2, 3), CG_INT32, 1, 1, 1, -2, -2, -2);
    cg_tensor *floats = cg_zeros(CG_SHAPE(3, 2), CG_FLOAT32);
    CHECK(cg_copy_(floats, cg_transpose(dst, 0, 1)) == 0);
    CHECK_TENSOR_EQUALS(floats, CG_SHAPE(3, 2), CG_FLOAT32, 1, -2, 1, -2, 1, -2);
    CHECK(cg_copy_(cg_transpose(floats, 0, 1), cg_arange(0, 3, 1, CG_FLOAT32)) == 0);
    CHECK_TENSOR_EQUALS(floats, CG_SHAPE(3, 2), CG_FLOAT32, 0, 0, 1, 1, 2, 2);
    cg_scope_end();
}

TEST(fill_writes_only_the_viewed_elements) {
    cg_scope_begin();
    cg_tensor *t = cg_zeros(CG_SHAPE(3, 4), CG_INT64);
    CHECK(cg_fill_(cg_slice(t, 1, 1, 4, 2), 7) == 0);
    CHECK(cg_fill_(cg_narrow(t, 0, 2, 1), -1) == 0);
    CHECK_TENSOR_EQUALS(t, CG_SHAPE(3, 4), CG_INT64, 0, 7, 0, 7, 0, 7, 0, 7, -1, -1, -1, -1);
    cg_tensor *f = cg_ones(CG_SHAPE(2, 2), CG_FLOAT32);
    CHECK(cg_fill_(f, 0.25) == 0);
    CHECK_TENSOR_EQUALS(f, CG_SHAPE(2, 2), CG_FLOAT32, 0.25, 0.25, 0.25, 0.25);
    cg_scope_end();
}

/* ----- comparisons and where ----- */

typedef struct {
    const char *name;
    cg_tensor *(*compare)(const cg_tensor *, const cg_tensor *);
    double want[6];
} comparison_case;

TEST(comparisons_give_ones_and_zeros_in_the_operand_dtype) {
    /* a = [[1, 2, 3], [4, 5, 6]] against b = [3, 2, 7] broadcast over the rows. */
    const comparison_case cases[] = {
        {"eq", cg_eq, {0, 1, 0, 0, 0, 0}}, {"ne", cg_ne, {1, 0, 1, 1, 1, 1}},
        {"lt", cg_lt, {1, 0, 1, 0, 0, 1}}, {"le", cg_le, {1, 1, 1, 0, 0, 1}},
        {"gt", cg_gt, {0, 0, 0, 1, 1, 0}}, {"ge", cg_ge, {0, 1, 0, 1, 1, 0}},
    };
    for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
        cg_scope_begin();
        cg_tensor *a = cg_reshape(cg_arange(1, 7, 1, dtype), CG_SHAPE(2, 3));
        cg_tensor *b =
            cg_to_dtype(cg_from_array((const double[]){3, 2, 7}, CG_SHAPE(3), CG_FLOAT64), dtype);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            if (!tensor_equals(cases[c].compare(a, b), CG_SHAPE(2, 3), dtype, cases[c].want,
                               cases[c].name, __FILE__, __LINE__))
                break;
        cg_scope_end();
    }
}

TEST(where_picks_elementwise_and_broadcasts) {
    for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
        if (dtype == CG_UINT8) continue; /* negative values: see test_uint8.c */
        cg_scope_begin();
        cg_tensor *cond = cg_from_array((const int32_t[]){1, 0, 0, 1}, CG_SHAPE(2, 2), CG_INT32);
        cg_tensor *a = cg_reshape(cg_arange(1, 5, 1, dtype), CG_SHAPE(2, 2));
        cg_tensor *b = cg_full(CG_SCALAR_SHAPE, -1, dtype);
        CHECK_TENSOR_EQUALS(cg_where(cond, a, b), CG_SHAPE(2, 2), dtype, 1, -1, -1, 4);
        /* A condition with more dims than either operand. */
        cg_tensor *column = cg_arange(10, 12, 1, dtype);
        cg_tensor *mask = cg_gt(cg_arange(0, 4, 1, dtype), cg_full(CG_SCALAR_SHAPE, 1, dtype));
        CHECK_TENSOR_EQUALS(cg_where(cg_reshape(mask, CG_SHAPE(2, 2, 1)), column, b),
                            CG_SHAPE(2, 2, 2), dtype, -1, -1, -1, -1, 10, 11, 10, 11);
        cg_scope_end();
    }
}

TEST(argmax_takes_the_first_largest) {
    cg_scope_begin();
    cg_tensor *x = cg_from_array((const float[]){1, 5, 5, -2, 0, -1}, CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_TENSOR_EQUALS(cg_argmax(x, 1, false), CG_SHAPE(2), CG_INT64, 1, 1);
    CHECK_TENSOR_EQUALS(cg_argmax(x, 0, true), CG_SHAPE(1, 3), CG_INT64, 0, 0, 0);
    CHECK_TENSOR_EQUALS(cg_argmax(x, -1, true), CG_SHAPE(2, 1), CG_INT64, 1, 1);
    cg_scope_end();
}
