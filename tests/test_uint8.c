/* The uint8 dtype: creation, conversion to and from every dtype, element access, printing and
 * the kernels every dtype shares (fill, gather, comparisons, reductions, integer arithmetic),
 * with values above 127 so that a kernel reading the bytes as signed would be caught. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* True when t is a uint8 tensor of n elements equal to want; reports the first difference. */
static bool bytes_equal(const cg_tensor *t, const uint8_t *want, int64_t n, const char *what,
                        int line) {
    uint8_t got[64];
    if (!t || cg_tensor_dtype(t) != CG_UINT8 || cg_numel(t) != n || n > 64 ||
        cg_copy_to_array(t, got, sizeof got) != 0) {
        test_fail(__FILE__, line, "%s: not a uint8 tensor of %lld elements (%s)", what,
                  (long long)n, cg_last_error());
        return false;
    }
    for (int64_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            test_fail(__FILE__, line, "%s: element %lld = %u, expected %u", what, (long long)i,
                      got[i], want[i]);
            return false;
        }
    }
    return true;
}

#define CHECK_BYTES(t, ...)                                                                        \
    do {                                                                                           \
        const uint8_t want_[] = {__VA_ARGS__};                                                     \
        if (!bytes_equal((t), want_, (int64_t)sizeof want_, #t, __LINE__)) return;                 \
    } while (0)

TEST(uint8_is_a_one_byte_dtype_named_uint8) {
    CHECK(strcmp(cg_dtype_name(CG_UINT8), "uint8") == 0);
    CHECK(cg_dtype_size(CG_UINT8) == 1);
    cg_scope_begin();
    cg_tensor *t = cg_zeros(CG_SHAPE(3, 5), CG_UINT8);
    CHECK(t && cg_tensor_dtype(t) == CG_UINT8 && cg_numel(t) == 15);
    cg_scope_end();
}

TEST(uint8_creation_and_out_of_range_values_wrap) {
    cg_scope_begin();
    CHECK_BYTES(cg_ones(CG_SHAPE(3), CG_UINT8), 1, 1, 1);
    CHECK_BYTES(cg_full(CG_SHAPE(2), 200, CG_UINT8), 200, 200);
    CHECK_BYTES(cg_full(CG_SHAPE(3), -1, CG_UINT8), 255, 255, 255);
    CHECK_BYTES(cg_full(CG_SHAPE(1), 300, CG_UINT8), 44);
    CHECK_BYTES(cg_arange(250, 256, 2, CG_UINT8), 250, 252, 254);
    CHECK_BYTES(cg_eye(2, CG_UINT8), 1, 0, 0, 1);
    CHECK_BYTES(cg_from_array((const uint8_t[]){0, 128, 255}, CG_SHAPE(3), CG_UINT8), 0, 128, 255);
    cg_tensor *random = cg_randint(250, 256, CG_SHAPE(200), CG_UINT8);
    CHECK(random);
    CHECK_NEAR(cg_item(cg_min(random, CG_ALL_DIMS, false)), 250, 0);
    CHECK_NEAR(cg_item(cg_max(random, CG_ALL_DIMS, false)), 255, 0);
    cg_scope_end();
}

TEST(uint8_converts_to_and_from_every_dtype) {
    const uint8_t bytes[] = {0, 1, 127, 128, 200, 255};
    const double values[] = {0, 1, 127, 128, 200, 255};
    cg_scope_begin();
    cg_tensor *source = cg_from_array(bytes, CG_SHAPE(6), CG_UINT8);
    for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
        cg_tensor *converted = cg_to_dtype(source, (cg_dtype)dtype);
        CHECK(converted && cg_tensor_dtype(converted) == (cg_dtype)dtype);
        for (int64_t i = 0; i < 6; i++)
            CHECK_NEAR(cg_get(converted, &i), values[i], 0);
        CHECK_BYTES(cg_to_dtype(converted, CG_UINT8), 0, 1, 127, 128, 200, 255);
    }
    /* Floats truncate towards zero and wrap modulo 256, like PyTorch's casts. */
    cg_tensor *floats =
        cg_from_array((const float[]){2.75f, -1.0f, 256.0f, 511.5f}, CG_SHAPE(4), CG_FLOAT32);
    CHECK_BYTES(cg_to_dtype(floats, CG_UINT8), 2, 255, 0, 255);
    cg_tensor *wide = cg_from_array((const int64_t[]){-2, 257, 1000}, CG_SHAPE(3), CG_INT64);
    CHECK_BYTES(cg_to_dtype(wide, CG_UINT8), 254, 1, 232);
    /* A strided view copies element by element. */
    cg_tensor *matrix = cg_reshape(cg_arange(250, 256, 1, CG_UINT8), CG_SHAPE(2, 3));
    CHECK_BYTES(cg_contiguous(cg_transpose(matrix, 0, 1)), 250, 253, 251, 254, 252, 255);
    cg_scope_end();
}

TEST(uint8_element_access_copy_out_and_fill) {
    cg_scope_begin();
    cg_tensor *t = cg_zeros(CG_SHAPE(2, 2), CG_UINT8);
    CHECK(cg_set(t, (const int64_t[]){0, 1}, 255) == 0);
    CHECK(cg_set(t, (const int64_t[]){1, 0}, 300) == 0);
    CHECK_NEAR(cg_get(t, (const int64_t[]){0, 1}), 255, 0);
    CHECK_BYTES(t, 0, 255, 44, 0);
    uint8_t out[4];
    CHECK(cg_copy_to_array(cg_transpose(t, 0, 1), out, sizeof out) == 0);
    CHECK(out[0] == 0 && out[1] == 44 && out[2] == 255 && out[3] == 0);
    CHECK_ERROR(cg_copy_to_array(t, out, 3), "needs 4 bytes");
    CHECK(cg_fill_(t, 128) == 0);
    CHECK_BYTES(t, 128, 128, 128, 128);
    CHECK(cg_copy_(t, cg_from_array((const float[]){1.5f, 254.0f}, CG_SHAPE(2), CG_FLOAT32)) == 0);
    CHECK_BYTES(t, 1, 254, 1, 254);
    CHECK_NEAR(cg_item(cg_scalar(199, CG_UINT8)), 199, 0);
    cg_scope_end();
}

TEST(uint8_prints_its_dtype_and_unsigned_values) {
    FILE *out = tmpfile();
    CHECK(out);
    cg_scope_begin();
    const int status =
        cg_print(cg_from_array((const uint8_t[]){7, 255}, CG_SHAPE(2), CG_UINT8), out);
    cg_scope_end();
    char text[256] = {0};
    rewind(out);
    const size_t length = fread(text, 1, sizeof text - 1, out);
    fclose(out);
    CHECK(status == 0 && length > 0);
    CHECK(strstr(text, "dtype=uint8") != NULL);
    CHECK(strstr(text, "[7, 255]") != NULL);
}

TEST(uint8_arithmetic_wraps_like_integers) {
    cg_scope_begin();
    cg_tensor *a = cg_from_array((const uint8_t[]){250, 3, 16, 200}, CG_SHAPE(4), CG_UINT8);
    cg_tensor *b = cg_from_array((const uint8_t[]){10, 5, 17, 100}, CG_SHAPE(4), CG_UINT8);
    CHECK_BYTES(cg_add(a, b), 4, 8, 33, 44);
    CHECK_BYTES(cg_sub(a, b), 240, 254, 255, 100);
    CHECK_BYTES(cg_mul(a, b), 196, 15, 16, 32);
    CHECK_BYTES(cg_maximum(a, b), 250, 5, 17, 200);
    CHECK_BYTES(cg_minimum(a, b), 10, 3, 16, 100);
    /* Broadcasting a scalar tensor. */
    CHECK_BYTES(cg_add(a, cg_scalar(6, CG_UINT8)), 0, 9, 22, 206);
    /* The integer rules: no division, no float functions, no gradients. */
    CHECK_ERROR(cg_div(a, b), "float32 or float64");
    CHECK_ERROR(cg_exp(a), "uint8");
    CHECK_ERROR(cg_set_requires_grad(a, true), "uint8");
    CHECK_ERROR(cg_add(a, cg_to_dtype(b, CG_INT32)), "dtype mismatch");
    cg_scope_end();
}

TEST(uint8_comparisons_and_where_read_values_as_unsigned) {
    cg_scope_begin();
    cg_tensor *a = cg_from_array((const uint8_t[]){255, 1, 128, 7}, CG_SHAPE(4), CG_UINT8);
    cg_tensor *b = cg_from_array((const uint8_t[]){1, 255, 128, 8}, CG_SHAPE(4), CG_UINT8);
    CHECK_BYTES(cg_gt(a, b), 1, 0, 0, 0);
    CHECK_BYTES(cg_lt(a, b), 0, 1, 0, 1);
    CHECK_BYTES(cg_eq(a, b), 0, 0, 1, 0);
    CHECK_BYTES(cg_ge(a, b), 1, 0, 1, 0);
    CHECK_BYTES(cg_where(cg_gt(a, b), a, b), 255, 255, 128, 8);
    cg_scope_end();
}

TEST(uint8_reductions_and_argmax) {
    cg_scope_begin();
    cg_tensor *x =
        cg_from_array((const uint8_t[]){200, 100, 3, 255, 0, 129}, CG_SHAPE(2, 3), CG_UINT8);
    CHECK_BYTES(cg_max(x, CG_DIMS(1), false), 200, 255);
    CHECK_BYTES(cg_min(x, CG_DIMS(0), false), 200, 0, 3);
    /* Sums stay uint8 and wrap: 200 + 100 + 3 = 303 = 47 (mod 256); 255 + 0 + 129 = 128. */
    CHECK_BYTES(cg_sum(x, CG_DIMS(1), false), 47, 128);
    CHECK_NEAR(cg_item(cg_sum(cg_to_dtype(x, CG_INT64), CG_ALL_DIMS, false)), 687, 0);
    cg_tensor *arg = cg_argmax(x, 1, false);
    CHECK(arg && cg_tensor_dtype(arg) == CG_INT64);
    CHECK_NEAR(cg_get(arg, (const int64_t[]){0}), 0, 0);
    CHECK_NEAR(cg_get(arg, (const int64_t[]){1}), 0, 0);
    CHECK_ERROR(cg_mean(x, CG_ALL_DIMS, false), "uint8");
    cg_scope_end();
}

TEST(uint8_gather_index_select_and_joins) {
    cg_scope_begin();
    cg_tensor *x =
        cg_from_array((const uint8_t[]){10, 255, 30, 140, 50, 60}, CG_SHAPE(3, 2), CG_UINT8);
    cg_tensor *rows = cg_from_array((const int64_t[]){2, 0, 1}, CG_SHAPE(3), CG_INT64);
    CHECK_BYTES(cg_index_select(x, 0, rows), 50, 60, 10, 255, 30, 140);
    cg_tensor *columns = cg_from_array((const int64_t[]){1, 0, 1}, CG_SHAPE(3, 1), CG_INT64);
    CHECK_BYTES(cg_gather(x, 1, columns), 255, 30, 60);
    CHECK_BYTES(cg_concat((cg_tensor *const[]){x, x}, 2, 1), 10, 255, 10, 255, 30, 140, 30, 140, 50,
                60, 50, 60);
    CHECK_BYTES(
        cg_one_hot(cg_from_array((const int64_t[]){2, 0}, CG_SHAPE(2), CG_INT64), 3, CG_UINT8), 0,
        0, 1, 1, 0, 0);
    cg_scope_end();
}
