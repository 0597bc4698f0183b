/* The fused ops: cg_linear and cg_conv2d with an activation. Float64 gradient checks for every
 * activation, values and gradients against PyTorch (tests/fixtures/fused.txt, written by
 * tests/fixtures/make_fused_fixtures.py) and against the same computation composed of separate
 * ops, and the memory a fused op keeps for backward. */
#include <string.h>

#include "fixture_check.h"
#include "test.h"

#define GRADCHECK(fn, inputs, count, userdata)                                                     \
    cg_gradcheck((fn), (inputs), (count), (userdata), 1e-6, 1e-7, 1e-5)

static const cg_activation ACTIVATIONS[] = {
    CG_ACTIVATION_NONE,       CG_ACTIVATION_RELU,    CG_ACTIVATION_SIGMOID, CG_ACTIVATION_TANH,
    CG_ACTIVATION_LEAKY_RELU, CG_ACTIVATION_SOFTMAX, CG_ACTIVATION_GELU,
};
enum { ACTIVATION_COUNT = sizeof ACTIVATIONS / sizeof ACTIVATIONS[0] };

static cg_tensor *variable(cg_shape shape) {
    return cg_set_requires_grad(cg_randn(shape, CG_FLOAT64), true);
}

/* ----- gradient checks ----- */

typedef struct {
    cg_activation activation;
    bool bias;
    cg_conv2d_options options;
} fused_case;

static cg_tensor *linear_fn(cg_tensor **inputs, void *userdata) {
    const fused_case *c = userdata;
    return cg_linear(inputs[0], inputs[1], c->bias ? inputs[2] : NULL, c->activation);
}

TEST(linear_gradients_for_every_activation) {
    const cg_shape x_shapes[] = {CG_SHAPE(4, 5), CG_SHAPE(2, 3, 5), CG_SHAPE(5)};
    for (int a = 0; a < ACTIVATION_COUNT; a++) {
        for (int s = 0; s < 3; s++) {
            cg_scope_begin();
            const fused_case c = {.activation = ACTIVATIONS[a], .bias = s != 2};
            cg_tensor *inputs[3] = {variable(x_shapes[s]), variable(CG_SHAPE(3, 5)),
                                    variable(CG_SHAPE(3))};
            if (GRADCHECK(linear_fn, inputs, c.bias ? 3 : 2, (void *)&c) != 0)
                test_fail(__FILE__, __LINE__, "linear with %s on input %d: %s",
                          cg_activation_name(c.activation), s, cg_last_error());
            cg_scope_end();
        }
    }
}

/* A transposed input reaches the product as a column-major operand. */
static cg_tensor *transposed_linear_fn(cg_tensor **inputs, void *userdata) {
    (void)userdata;
    return cg_linear(cg_transpose(inputs[0], 0, 1), inputs[1], inputs[2], CG_ACTIVATION_TANH);
}

TEST(linear_gradients_through_a_transposed_input) {
    cg_scope_begin();
    cg_tensor *inputs[3] = {variable(CG_SHAPE(5, 4)), variable(CG_SHAPE(3, 5)),
                            variable(CG_SHAPE(3))};
    CHECK(GRADCHECK(transposed_linear_fn, inputs, 3, NULL) == 0);
    cg_scope_end();
}

static cg_tensor *conv_fn(cg_tensor **inputs, void *userdata) {
    const fused_case *c = userdata;
    return cg_conv2d(inputs[0], inputs[1], c->bias ? inputs[2] : NULL, &c->options);
}

TEST(conv2d_gradients_for_every_activation) {
    for (int a = 0; a < ACTIVATION_COUNT; a++) {
        for (int bias = 0; bias < 2; bias++) {
            cg_scope_begin();
            const fused_case c = {
                .bias = bias,
                .options = {.padding_h = 1, .stride_w = 2, .activation = ACTIVATIONS[a]}};
            cg_tensor *inputs[3] = {variable(CG_SHAPE(2, 2, 5, 5)), variable(CG_SHAPE(3, 2, 3, 3)),
                                    variable(CG_SHAPE(3))};
            if (GRADCHECK(conv_fn, inputs, bias ? 3 : 2, (void *)&c) != 0)
                test_fail(__FILE__, __LINE__, "conv2d with %s%s: %s",
                          cg_activation_name(ACTIVATIONS[a]), bias ? " and a bias" : "",
                          cg_last_error());
            cg_scope_end();
        }
    }
}

/* ----- the same computation from separate ops ----- */

static cg_tensor *composed_linear(cg_tensor **in, cg_activation activation) {
    return cg_activate(cg_add(cg_matmul(in[0], cg_transpose(in[1], 0, 1)), in[2]), activation);
}

static cg_tensor *composed_conv(cg_tensor **in, cg_activation activation) {
    return cg_activate(cg_conv2d(in[0], in[1], in[2], NULL), activation);
}

static cg_tensor *fused_linear(cg_tensor **in, cg_activation activation) {
    return cg_linear(in[0], in[1], in[2], activation);
}

static cg_tensor *fused_conv(cg_tensor **in, cg_activation activation) {
    return cg_conv2d(in[0], in[1], in[2], &(cg_conv2d_options){.activation = activation});
}

typedef cg_tensor *(*build_fn)(cg_tensor **inputs, cg_activation activation);

/* The output of build on copies of inputs, then the inputs' gradients of sum(output * g) (g made
 * from the output's shape when *g is NULL): results[0] the output, results[1..3] the gradients. */
static bool run_on_copies(build_fn build, cg_tensor *const *inputs, cg_activation activation,
                          cg_tensor **g, cg_tensor **results) {
    cg_tensor *copies[3];
    for (int i = 0; i < 3; i++)
        copies[i] = cg_set_requires_grad(cg_clone(inputs[i]), true);
    results[0] = build(copies, activation);
    if (!results[0]) return false;
    if (!*g) *g = cg_randn(cg_tensor_shape(results[0]), CG_FLOAT32);
    if (cg_backward_with(results[0], *g) != 0) return false;
    for (int i = 0; i < 3; i++)
        results[i + 1] = cg_grad(copies[i]);
    return true;
}

/* Fused and composed do the same float32 arithmetic, the bias added and the activation applied
 * in one pass instead of two: they agree but for sums taken in another order. */
static void check_against_composed(build_fn fused, build_fn composed, const cg_shape *shapes) {
    static const char *const names[] = {"output", "x gradient", "weight gradient", "bias gradient"};
    for (int a = 0; a < ACTIVATION_COUNT; a++) {
        cg_scope_begin();
        cg_tensor *inputs[3], *g = NULL, *expected[4], *actual[4];
        for (int i = 0; i < 3; i++)
            inputs[i] = cg_randn(shapes[i], CG_FLOAT32);
        if (!run_on_copies(fused, inputs, ACTIVATIONS[a], &g, actual) ||
            !run_on_copies(composed, inputs, ACTIVATIONS[a], &g, expected)) {
            test_fail(__FILE__, __LINE__, "%s: %s", cg_activation_name(ACTIVATIONS[a]),
                      cg_last_error());
        }
        for (int k = 0; k < 4 && !test_failed(); k++)
            if (!test_tensor_close(actual[k], expected[k], 1e-5, 1e-5, __FILE__, __LINE__))
                test_fail(__FILE__, __LINE__, "%s: the %s differs",
                          cg_activation_name(ACTIVATIONS[a]), names[k]);
        cg_scope_end();
    }
}

TEST(linear_matches_its_composition_of_separate_ops) {
    const cg_shape shapes[] = {CG_SHAPE(33, 70), CG_SHAPE(20, 70), CG_SHAPE(20)};
    check_against_composed(fused_linear, composed_linear, shapes);
}

TEST(conv2d_with_an_activation_matches_conv2d_then_the_activation) {
    const cg_shape shapes[] = {CG_SHAPE(3, 4, 9, 8), CG_SHAPE(5, 4, 3, 3), CG_SHAPE(5)};
    check_against_composed(fused_conv, composed_conv, shapes);
}

/* ----- memory ----- */

/* The live bytes a forward op leaves behind in a scope: its output, and whatever its graph
 * keeps for backward. */
static size_t bytes_kept(build_fn build, cg_tensor **inputs, cg_activation activation) {
    const size_t before = cg_memory_get_stats().live_bytes;
    cg_tensor *out = build(inputs, activation);
    return out ? cg_memory_get_stats().live_bytes - before : 0;
}

static cg_tensor *parameter(cg_shape shape) {
    return cg_set_requires_grad(cg_randn(shape, CG_FLOAT32), true);
}

/* A fused layer keeps one tensor of its output's size where a product, a bias addition and an
 * activation kept three (and conv2d then an activation two). */
TEST(fused_ops_keep_only_their_output) {
    cg_scope_begin();
    cg_tensor *linear_inputs[3] = {cg_randn(CG_SHAPE(64, 100), CG_FLOAT32),
                                   parameter(CG_SHAPE(256, 100)), parameter(CG_SHAPE(256))};
    cg_tensor *conv_inputs[3] = {cg_randn(CG_SHAPE(4, 3, 16, 16), CG_FLOAT32),
                                 parameter(CG_SHAPE(8, 3, 3, 3)), parameter(CG_SHAPE(8))};
    const size_t linear_out = 64 * 256 * sizeof(float), conv_out = 4 * 8 * 14 * 14 * sizeof(float);
    const size_t fused = bytes_kept(fused_linear, linear_inputs, CG_ACTIVATION_RELU);
    const size_t composed = bytes_kept(composed_linear, linear_inputs, CG_ACTIVATION_RELU);
    CHECK(fused >= linear_out && fused < linear_out + linear_out / 4);
    CHECK(composed >= 3 * linear_out);
    const size_t fused_conv_bytes = bytes_kept(fused_conv, conv_inputs, CG_ACTIVATION_TANH);
    CHECK(fused_conv_bytes >= conv_out && fused_conv_bytes < conv_out + conv_out / 4);
    CHECK(bytes_kept(composed_conv, conv_inputs, CG_ACTIVATION_TANH) >= 2 * conv_out);
    cg_scope_end();
}

/* ----- against PyTorch ----- */

static const char FIXTURE_PATH[] = "tests/fixtures/fused.txt";

static cg_tensor *run_fixture_op(const char *file, const fixture_case *fixture,
                                 cg_tensor *const *inputs) {
    const double *activation = fixture_attr_values(file, fixture, "activation", 1);
    if (!activation) return NULL;
    if (strcmp(fixture->op, "linear") == 0)
        return cg_linear(inputs[0], inputs[1], inputs[2], (cg_activation)activation[0]);
    const double *padding = fixture_attr_values(file, fixture, "padding", 2);
    if (!padding) return NULL;
    const cg_conv2d_options options = {.padding_h = (int)padding[0],
                                       .padding_w = (int)padding[1],
                                       .activation = (cg_activation)activation[0]};
    return cg_conv2d(inputs[0], inputs[1], inputs[2], &options);
}

TEST(fused_ops_match_pytorch) { fixture_check_op_cases(FIXTURE_PATH, run_fixture_op); }

/* ----- errors ----- */

TEST(linear_rejects_operands_that_do_not_fit) {
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(4, 5), CG_FLOAT32);
    CHECK_ERROR(cg_linear(x, cg_randn(CG_SHAPE(3, 6), CG_FLOAT32), NULL, CG_ACTIVATION_NONE),
                "must be (out, in)");
    CHECK_ERROR(cg_linear(x, cg_randn(CG_SHAPE(15), CG_FLOAT32), NULL, CG_ACTIVATION_NONE),
                "must be (out, in)");
    CHECK_ERROR(cg_linear(x, cg_randn(CG_SHAPE(3, 5), CG_FLOAT32),
                          cg_randn(CG_SHAPE(4), CG_FLOAT32), CG_ACTIVATION_RELU),
                "one value per output");
    CHECK_ERROR(cg_linear(x, cg_randn(CG_SHAPE(3, 5), CG_FLOAT32), NULL, CG_ACTIVATION_COUNT),
                "unknown activation");
    CHECK_ERROR(cg_conv2d(cg_randn(CG_SHAPE(1, 1, 4, 4), CG_FLOAT32),
                          cg_randn(CG_SHAPE(1, 1, 3, 3), CG_FLOAT32), NULL,
                          &(cg_conv2d_options){.activation = (cg_activation)99}),
                "unknown activation");
    cg_scope_end();
}
