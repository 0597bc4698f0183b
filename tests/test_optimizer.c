/* Optimizers and learning-rate schedules: trajectories against torch.optim (the fixture written by
 * tests/fixtures/make_optimizer_fixtures.py), option checks, state kept across steps and scopes,
 * clipping that leaves the caller's gradients alone, and steps that allocate nothing. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "tensor_bits.h"
#include "test.h"

/* The float64 kernels follow PyTorch's order of operations, so only the last bits may differ. */
static const double FLOAT64_ATOL = 1e-12;
/* The float32 inputs equal the float64 ones (the script rounds them to float32). */
static const double FLOAT32_ATOL = 2e-5, FLOAT32_RTOL = 1e-5;

enum { MAX_PARAMS = 4 };

/* ----- helpers ----- */

/* Sets the gradient of each params[i] to grads[i] exactly, through autograd: the gradient of
 * sum(p * g) with respect to p is g. A NULL grads[i] leaves params[i] without a gradient. */
static int set_gradients(cg_tensor *const *params, cg_tensor *const *grads, int count) {
    for (int i = 0; i < count; i++)
        cg_zero_grad(params[i]);
    cg_scope_begin();
    cg_tensor *loss = NULL;
    for (int i = 0; i < count; i++) {
        if (!grads[i]) continue;
        cg_tensor *term = cg_sum(cg_mul(params[i], grads[i]), CG_ALL_DIMS, false);
        loss = loss ? cg_add(loss, term) : term;
    }
    const int status = loss ? cg_backward(loss) : 0;
    cg_scope_end();
    return status;
}

static cg_tensor *parameter(cg_tensor *value) { return cg_set_requires_grad(value, true); }

/* ----- trajectories against torch.optim ----- */

/* Reads a case's option attributes over the defaults of its optimizer. */
static bool case_options(const fixture_case *fixture, cg_optimizer_kind kind,
                         cg_optimizer_options *options) {
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"learning_rate", offsetof(cg_optimizer_options, learning_rate)},
        {"momentum", offsetof(cg_optimizer_options, momentum)},
        {"beta1", offsetof(cg_optimizer_options, beta1)},
        {"beta2", offsetof(cg_optimizer_options, beta2)},
        {"epsilon", offsetof(cg_optimizer_options, epsilon)},
        {"rho", offsetof(cg_optimizer_options, rho)},
        {"weight_decay", offsetof(cg_optimizer_options, weight_decay)},
        {"clip_norm", offsetof(cg_optimizer_options, clip_norm)},
    };
    *options = cg_optimizer_defaults(kind);
    for (int a = 0; a < fixture->attr_count; a++) {
        const fixture_attr *attr = &fixture->attrs[a];
        bool known = strncmp(attr->name, "no_grad_", 8) == 0;
        if (strcmp(attr->name, "nesterov") == 0) {
            options->nesterov = attr->values[0] != 0;
            known = true;
        }
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            if (strcmp(attr->name, fields[f].name) != 0) continue;
            *(double *)((char *)options + fields[f].offset) = attr->values[0];
            known = true;
        }
        if (!known) {
            test_fail(__FILE__, __LINE__, "case %s: unknown attribute %s", fixture->name,
                      attr->name);
            return false;
        }
    }
    return true;
}

/* Whether parameter `index` gets a gradient at `step` (attr no_grad_INDEX lists the steps
 * without). */
static bool has_gradient(const fixture_case *fixture, int index, int step) {
    char name[32];
    snprintf(name, sizeof name, "no_grad_%d", index);
    const fixture_attr *skipped = fixture_find_attr(fixture, name);
    for (int k = 0; skipped && k < skipped->count; k++)
        if ((int)skipped->values[k] == step) return false;
    return true;
}

static cg_tensor *case_tensor(const fixture_case *fixture, const char *prefix, int index) {
    char name[FIXTURE_NAME_SIZE];
    snprintf(name, sizeof name, "%s_%d", prefix, index);
    return fixture_find_tensor(fixture, name);
}

/* Trains the case's parameters in dtype with the recorded gradients and compares them with
 * PyTorch's after every step. Returns false after reporting the first difference. */
static bool replay_case(const fixture_case *fixture, cg_dtype dtype, double atol, double rtol) {
    cg_optimizer_kind kind;
    cg_optimizer_options options;
    if (cg_optimizer_parse(fixture->op, &kind) != 0 || !case_options(fixture, kind, &options))
        return false;
    cg_optimizer *optimizer = cg_optimizer_new(kind, &options);
    cg_tensor *params[MAX_PARAMS] = {0};
    int count = 0;
    while (count < MAX_PARAMS && case_tensor(fixture, "init", count)) {
        params[count] = parameter(cg_to_dtype(case_tensor(fixture, "init", count), dtype));
        count++;
    }
    const int64_t steps = count > 0 ? cg_dim(case_tensor(fixture, "grads", 0), 0) : 0;
    bool ok = optimizer && count > 0;
    for (int step = 0; ok && step < steps; step++) {
        cg_scope_begin();
        cg_tensor *grads[MAX_PARAMS] = {0};
        for (int i = 0; i < count; i++) {
            cg_tensor *slice = cg_narrow(case_tensor(fixture, "grads", i), 0, step, 1);
            if (has_gradient(fixture, i, step))
                grads[i] = cg_to_dtype(cg_reshape(slice, cg_tensor_shape(params[i])), dtype);
        }
        ok = set_gradients(params, grads, count) == 0 &&
             cg_optimizer_step(optimizer, params, count) == 0;
        for (int i = 0; ok && i < count; i++) {
            cg_tensor *expected = cg_narrow(case_tensor(fixture, "expected", i), 0, step, 1);
            ok = test_tensor_close(params[i], expected, atol, rtol, __FILE__, __LINE__);
            if (!ok)
                test_fail(__FILE__, __LINE__, "case %s (%s): parameter %d after step %d",
                          fixture->name, cg_dtype_name(dtype), i, step + 1);
        }
        cg_scope_end();
    }
    if (!ok && !test_failed())
        test_fail(__FILE__, __LINE__, "case %s (%s): %s", fixture->name, cg_dtype_name(dtype),
                  cg_last_error());
    for (int i = 0; i < count; i++)
        cg_release(params[i]);
    cg_optimizer_free(optimizer);
    return ok;
}

TEST(optimizers_match_torch_trajectories) {
    fixture_file *file = fixture_load(test_source_path("tests/fixtures/optimizers.txt"));
    CHECK(file != NULL);
    bool seen[CG_OPTIMIZER_COUNT] = {false}, all_match = true;
    for (int c = 0; all_match && c < file->case_count; c++) {
        const fixture_case *fixture = &file->cases[c];
        all_match = replay_case(fixture, CG_FLOAT64, FLOAT64_ATOL, 0) &&
                    replay_case(fixture, CG_FLOAT32, FLOAT32_ATOL, FLOAT32_RTOL);
        cg_optimizer_kind kind;
        if (cg_optimizer_parse(fixture->op, &kind) == 0) seen[kind] = true;
    }
    fixture_free(file);
    if (!all_match) return;
    for (int k = 0; k < CG_OPTIMIZER_COUNT; k++)
        CHECK(seen[k]);
}

/* ----- options ----- */

TEST(optimizer_defaults_are_pytorch_values) {
    const cg_optimizer_options sgd = cg_optimizer_defaults(CG_OPTIMIZER_SGD);
    CHECK(sgd.learning_rate == 0.01 && sgd.momentum == 0 && !sgd.nesterov);
    CHECK(sgd.weight_decay == 0 && sgd.clip_norm == 0);
    const cg_optimizer_options adam = cg_optimizer_defaults(CG_OPTIMIZER_ADAM);
    CHECK(adam.learning_rate == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999);
    CHECK(adam.epsilon == 1e-8 && adam.weight_decay == 0);
    const cg_optimizer_options adamw = cg_optimizer_defaults(CG_OPTIMIZER_ADAMW);
    CHECK(adamw.learning_rate == 1e-3 && adamw.weight_decay == 0.01);
    const cg_optimizer_options rmsprop = cg_optimizer_defaults(CG_OPTIMIZER_RMSPROP);
    CHECK(rmsprop.learning_rate == 0.01 && rmsprop.rho == 0.99 && rmsprop.epsilon == 1e-8);
    CHECK(rmsprop.momentum == 0);
    cg_clear_error();
    const cg_optimizer_options unknown = cg_optimizer_defaults(CG_OPTIMIZER_COUNT);
    CHECK(unknown.learning_rate == 0 && strstr(cg_last_error(), "unknown optimizer kind"));
}

TEST(optimizer_constructors_set_kind_and_rate) {
    cg_optimizer *optimizers[] = {cg_sgd(0.1, 0.9, true), cg_adam(0.002), cg_adamw(0.003, 0.05),
                                  cg_rmsprop(0.004), cg_optimizer_new(CG_OPTIMIZER_ADAM, NULL)};
    const cg_optimizer_kind kinds[] = {CG_OPTIMIZER_SGD, CG_OPTIMIZER_ADAM, CG_OPTIMIZER_ADAMW,
                                       CG_OPTIMIZER_RMSPROP, CG_OPTIMIZER_ADAM};
    const double rates[] = {0.1, 0.002, 0.003, 0.004, 1e-3};
    bool ok = true;
    for (int i = 0; i < 5; i++) {
        ok = ok && optimizers[i] && cg_optimizer_get_kind(optimizers[i]) == kinds[i] &&
             cg_optimizer_learning_rate(optimizers[i]) == rates[i];
        cg_optimizer_free(optimizers[i]);
    }
    CHECK(ok);
}

TEST(optimizer_names_parse_back) {
    const char *names[] = {"sgd", "adam", "adamw", "rmsprop"};
    for (int k = 0; k < CG_OPTIMIZER_COUNT; k++) {
        CHECK(strcmp(cg_optimizer_name((cg_optimizer_kind)k), names[k]) == 0);
        cg_optimizer_kind parsed = CG_OPTIMIZER_COUNT;
        CHECK(cg_optimizer_parse(names[k], &parsed) == 0 && parsed == (cg_optimizer_kind)k);
    }
    CHECK(strcmp(cg_optimizer_name(CG_OPTIMIZER_COUNT), "invalid") == 0);
    cg_optimizer_kind kind;
    CHECK_ERROR(cg_optimizer_parse("adagrad", &kind), "unknown optimizer 'adagrad'");
}

static cg_optimizer *new_with(cg_optimizer_kind kind, const char *option, double value) {
    cg_optimizer_options options = cg_optimizer_defaults(kind);
    if (strcmp(option, "learning_rate") == 0) options.learning_rate = value;
    if (strcmp(option, "momentum") == 0) options.momentum = value;
    if (strcmp(option, "beta1") == 0) options.beta1 = value;
    if (strcmp(option, "beta2") == 0) options.beta2 = value;
    if (strcmp(option, "epsilon") == 0) options.epsilon = value;
    if (strcmp(option, "rho") == 0) options.rho = value;
    if (strcmp(option, "weight_decay") == 0) options.weight_decay = value;
    if (strcmp(option, "clip_norm") == 0) options.clip_norm = value;
    return cg_optimizer_new(kind, &options);
}

TEST(optimizer_rejects_invalid_options) {
    CHECK_ERROR(new_with(CG_OPTIMIZER_SGD, "learning_rate", 0), "learning_rate must be in (0");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "learning_rate", -1e-3), "got -0.001");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "learning_rate", NAN), "learning_rate");
    CHECK_ERROR(new_with(CG_OPTIMIZER_SGD, "momentum", 1), "sgd: momentum must be in [0, 1)");
    CHECK_ERROR(new_with(CG_OPTIMIZER_RMSPROP, "momentum", -0.1), "rmsprop: momentum");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "beta1", 1), "adam: beta1 must be in [0, 1)");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAMW, "beta2", -0.5), "adamw: beta2");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "epsilon", 0), "epsilon must be in (0");
    CHECK_ERROR(new_with(CG_OPTIMIZER_RMSPROP, "rho", 1), "rmsprop: rho must be in [0, 1)");
    CHECK_ERROR(new_with(CG_OPTIMIZER_SGD, "weight_decay", -0.1), "weight_decay must be in [0");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "clip_norm", -1), "clip_norm must be in [0");
    CHECK_ERROR(cg_sgd(0.1, 0, true), "nesterov needs a momentum > 0");
    CHECK_ERROR(cg_adamw(1e-3, -0.01), "adamw: weight_decay");
    CHECK_ERROR(cg_optimizer_new(CG_OPTIMIZER_COUNT, NULL), "unknown optimizer kind");
}

TEST(optimizer_rejects_options_of_other_optimizers) {
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAM, "momentum", 0.9), "momentum is not an option of adam");
    CHECK_ERROR(new_with(CG_OPTIMIZER_SGD, "beta1", 0.9), "beta1 is not an option of sgd");
    CHECK_ERROR(new_with(CG_OPTIMIZER_SGD, "epsilon", 1e-8), "epsilon is not an option of sgd");
    CHECK_ERROR(new_with(CG_OPTIMIZER_ADAMW, "rho", 0.9), "rho is not an option of adamw");
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_RMSPROP);
    options.momentum = 0.9;
    options.nesterov = true;
    CHECK_ERROR(cg_optimizer_new(CG_OPTIMIZER_RMSPROP, &options),
                "nesterov is not an option of rmsprop");
}

TEST(optimizer_options_read_back) {
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_RMSPROP);
    options.momentum = 0.5;
    options.clip_norm = 2.0;
    cg_optimizer *rmsprop = cg_optimizer_new(CG_OPTIMIZER_RMSPROP, &options);
    CHECK(rmsprop);
    cg_optimizer_set_learning_rate(rmsprop, 0.25);
    const cg_optimizer_options read = cg_optimizer_get_options(rmsprop);
    cg_optimizer_free(rmsprop);
    CHECK(read.learning_rate == 0.25 && read.momentum == 0.5 && read.clip_norm == 2.0);
    CHECK(read.rho == options.rho && read.epsilon == options.epsilon);
}

TEST(optimizer_accessors_reject_null) {
    CHECK_ERROR(cg_optimizer_learning_rate(NULL), "optimizer is NULL");
    cg_clear_error();
    CHECK(cg_optimizer_get_kind(NULL) == CG_OPTIMIZER_COUNT);
    CHECK(strstr(cg_last_error(), "optimizer is NULL"));
    cg_clear_error();
    CHECK(cg_optimizer_get_options(NULL).learning_rate == 0);
    CHECK(strstr(cg_last_error(), "optimizer is NULL"));
    cg_optimizer_free(NULL);
}

/* ----- steps ----- */

TEST(learning_rate_changes_apply_to_the_next_step) {
    cg_tensor *p = parameter(cg_full(CG_SHAPE(3), 1.0, CG_FLOAT64));
    cg_tensor *g = cg_full(CG_SHAPE(3), 2.0, CG_FLOAT64);
    cg_optimizer *sgd = cg_sgd(0.1, 0, false);
    CHECK(set_gradients(&p, &g, 1) == 0 && cg_optimizer_step(sgd, &p, 1) == 0);
    cg_optimizer_set_learning_rate(sgd, 0.5);
    CHECK(cg_optimizer_learning_rate(sgd) == 0.5);
    CHECK(cg_optimizer_step(sgd, &p, 1) == 0);
    const int64_t first[1] = {0};
    CHECK_NEAR(cg_get(p, first), 1.0 - 0.1 * 2.0 - 0.5 * 2.0, 1e-15);
    /* A schedule may reach 0; a negative or NaN rate is refused and the rate kept. */
    cg_optimizer_set_learning_rate(sgd, 0);
    CHECK(cg_optimizer_learning_rate(sgd) == 0);
    cg_clear_error();
    cg_optimizer_set_learning_rate(sgd, -0.1);
    CHECK(strstr(cg_last_error(), "learning rate must be finite and >= 0"));
    cg_optimizer_set_learning_rate(sgd, NAN);
    CHECK(cg_optimizer_learning_rate(sgd) == 0);
    cg_optimizer_free(sgd);
    cg_release(g);
    cg_release(p);
}

TEST(optimizer_step_reports_bad_arguments) {
    cg_tensor *params[2] = {parameter(cg_ones(CG_SHAPE(2), CG_FLOAT32)),
                            parameter(cg_ones(CG_SHAPE(3), CG_FLOAT32))};
    cg_tensor *grads[2] = {cg_ones(CG_SHAPE(2), CG_FLOAT32), cg_ones(CG_SHAPE(3), CG_FLOAT32)};
    cg_tensor *other = parameter(cg_ones(CG_SHAPE(4), CG_FLOAT32));
    cg_tensor *other_grad = cg_ones(CG_SHAPE(4), CG_FLOAT32);
    cg_tensor *labels = cg_zeros(CG_SHAPE(2), CG_INT64);
    cg_optimizer *adam = cg_adam(1e-3);
    CHECK_ERROR(cg_optimizer_step(NULL, params, 2), "optimizer is NULL");
    CHECK_ERROR(cg_optimizer_step(adam, params, -1), "negative parameter count");
    CHECK_ERROR(cg_optimizer_step(adam, NULL, 2), "NULL list");
    CHECK(set_gradients(params, grads, 2) == 0 && cg_optimizer_step(adam, params, 2) == 0);
    CHECK_ERROR(cg_optimizer_step(adam, params, 1), "1 parameters, but earlier steps had 2");
    cg_tensor *swapped[2] = {params[0], other};
    CHECK(set_gradients(&other, &other_grad, 1) == 0);
    CHECK_ERROR(cg_optimizer_step(adam, swapped, 2), "parameter 1 is [4] float32 but its state is");
    cg_tensor *with_labels[2] = {params[0], labels};
    CHECK_ERROR(cg_optimizer_step(adam, with_labels, 2), "parameter 1 is int64");
    cg_tensor *with_null[2] = {params[0], NULL};
    CHECK_ERROR(cg_optimizer_step(adam, with_null, 2), "parameter 1 is NULL");
    cg_optimizer_free(adam);
    cg_release(labels);
    cg_release(other_grad);
    cg_release(other);
    for (int i = 0; i < 2; i++) {
        cg_release(grads[i]);
        cg_release(params[i]);
    }
}

TEST(failed_step_changes_no_parameter) {
    cg_tensor *params[2] = {parameter(cg_ones(CG_SHAPE(2), CG_FLOAT64)),
                            cg_ones(CG_SHAPE(2), CG_INT32)};
    cg_tensor *g = cg_ones(CG_SHAPE(2), CG_FLOAT64);
    cg_optimizer *sgd = cg_sgd(0.1, 0.9, false);
    CHECK(set_gradients(params, &g, 1) == 0);
    CHECK_ERROR(cg_optimizer_step(sgd, params, 2), "parameter 1 is int32");
    const int64_t first[1] = {0};
    CHECK(cg_get(params[0], first) == 1.0);
    cg_optimizer_free(sgd);
    cg_release(g);
    cg_release(params[0]);
    cg_release(params[1]);
}

TEST(clipping_leaves_the_callers_gradients_unchanged) {
    const double values[3] = {3.0, -4.0, 12.0}; /* norm 13 */
    cg_tensor *p = parameter(cg_zeros(CG_SHAPE(3), CG_FLOAT64));
    cg_tensor *g = cg_from_array(values, CG_SHAPE(3), CG_FLOAT64);
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_SGD);
    options.learning_rate = 1.0;
    options.clip_norm = 1.0;
    cg_optimizer *sgd = cg_optimizer_new(CG_OPTIMIZER_SGD, &options);
    CHECK(set_gradients(&p, &g, 1) == 0 && cg_optimizer_step(sgd, &p, 1) == 0);
    CHECK_TENSOR_CLOSE(cg_grad(p), g, 0, 0);
    /* The update itself used the gradient scaled to norm 1 (less the 1e-6 of PyTorch's factor). */
    for (int64_t i = 0; i < 3; i++)
        CHECK_NEAR(cg_get(p, &i), -values[i] / (13.0 + 1e-6), 1e-15);
    cg_optimizer_free(sgd);
    cg_release(g);
    cg_release(p);
}

/* A strided (transposed) parameter follows the same trajectory as a contiguous copy of it. */
TEST(optimizer_updates_strided_parameters) {
    cg_tensor *base = cg_randn(CG_SHAPE(3, 4), CG_FLOAT64);
    cg_tensor *transposed = cg_transpose(base, 0, 1);
    cg_tensor *strided = parameter(cg_detach(transposed));
    cg_tensor *dense = parameter(cg_contiguous(transposed));
    cg_tensor *g = cg_randn(CG_SHAPE(4, 3), CG_FLOAT64);
    CHECK(!cg_is_contiguous(strided) && cg_is_contiguous(dense));
    cg_optimizer *first = cg_adam(0.1), *second = cg_adam(0.1);
    for (int step = 0; step < 3; step++) {
        CHECK(set_gradients(&strided, &g, 1) == 0 && cg_optimizer_step(first, &strided, 1) == 0);
        CHECK(set_gradients(&dense, &g, 1) == 0 && cg_optimizer_step(second, &dense, 1) == 0);
    }
    CHECK_TENSOR_CLOSE(strided, dense, 0, 0);
    cg_optimizer_free(first);
    cg_optimizer_free(second);
    cg_release(g);
    cg_release(dense);
    cg_release(strided);
    cg_release(transposed);
    cg_release(base);
}

/* A parameter large enough for the update to be split across threads ends bit for bit where the
 * single-threaded update (and the strided path, on a transposed copy) takes it, for every rule. */
TEST(optimizer_updates_do_not_depend_on_the_thread_count) {
    const int saved = cg_get_num_threads();
    for (int kind = 0; kind < CG_OPTIMIZER_COUNT; kind++) {
        cg_tensor *start = cg_randn(CG_SHAPE(512, 600), CG_FLOAT32);
        cg_tensor *g = cg_randn(CG_SHAPE(512, 600), CG_FLOAT32);
        cg_scope_begin();
        cg_tensor *transposed_copy = cg_contiguous(cg_transpose(start, 0, 1));
        cg_tensor *strided = cg_keep(cg_detach(cg_transpose(transposed_copy, 0, 1)));
        cg_scope_end();
        cg_tensor *params[3] = {parameter(cg_clone(start)), parameter(cg_clone(start)),
                                parameter(strided)};
        CHECK(!cg_is_contiguous(params[2]));
        cg_optimizer_options options = cg_optimizer_defaults((cg_optimizer_kind)kind);
        if (kind == CG_OPTIMIZER_SGD || kind == CG_OPTIMIZER_RMSPROP) options.momentum = 0.9;
        for (int i = 0; i < 3; i++) {
            CHECK(cg_set_num_threads(i == 1 ? 2 : 1) == 0);
            cg_optimizer *optimizer = cg_optimizer_new((cg_optimizer_kind)kind, &options);
            for (int step = 0; step < 3; step++)
                CHECK(set_gradients(&params[i], &g, 1) == 0 &&
                      cg_optimizer_step(optimizer, &params[i], 1) == 0);
            cg_optimizer_free(optimizer);
        }
        cg_set_num_threads(saved);
        CHECK(tensors_identical(params[0], params[1]));
        CHECK_TENSOR_CLOSE(params[2], params[0], 0, 0);
        CHECK(!tensors_identical(params[0], start)); /* the steps did move it */
        for (int i = 0; i < 3; i++)
            cg_release(params[i]);
        cg_release(g);
        cg_release(start);
    }
}

/* State created by a step inside a scope belongs to the optimizer, not to the scope. */
TEST(optimizer_state_outlives_the_scope_of_its_first_step) {
    cg_tensor *start = cg_randn(CG_SHAPE(5), CG_FLOAT64);
    cg_tensor *inside = parameter(cg_clone(start)), *outside = parameter(cg_clone(start));
    cg_tensor *g = cg_randn(CG_SHAPE(5), CG_FLOAT64);
    cg_optimizer *scoped = cg_sgd(0.1, 0.9, true), *plain = cg_sgd(0.1, 0.9, true);
    CHECK(set_gradients(&inside, &g, 1) == 0 && set_gradients(&outside, &g, 1) == 0);
    cg_scope_begin();
    const int scoped_status = cg_optimizer_step(scoped, &inside, 1);
    cg_scope_end();
    CHECK(scoped_status == 0 && cg_optimizer_step(plain, &outside, 1) == 0);
    for (int step = 0; step < 3; step++) {
        /* Fill the freed blocks, so that state freed with the scope would be overwritten. */
        cg_tensor *scratch = cg_full(CG_SHAPE(5), 1e6, CG_FLOAT64);
        CHECK(cg_optimizer_step(scoped, &inside, 1) == 0);
        CHECK(cg_optimizer_step(plain, &outside, 1) == 0);
        cg_release(scratch);
    }
    CHECK_TENSOR_CLOSE(inside, outside, 0, 0);
    cg_optimizer_free(scoped);
    cg_optimizer_free(plain);
    cg_release(g);
    cg_release(outside);
    cg_release(inside);
    cg_release(start);
}

/* After the first step has created the state, steps allocate nothing: with the allocator's cache
 * emptied, any allocation would reach the system allocator. */
static void check_steps_allocate_nothing(cg_optimizer *optimizer) {
    cg_tensor *params[2] = {parameter(cg_randn(CG_SHAPE(8, 5), CG_FLOAT32)),
                            parameter(cg_randn(CG_SHAPE(5), CG_FLOAT32))};
    cg_tensor *grads[2] = {cg_randn(CG_SHAPE(8, 5), CG_FLOAT32), cg_randn(CG_SHAPE(5), CG_FLOAT32)};
    bool ok = optimizer && set_gradients(params, grads, 2) == 0 &&
              cg_optimizer_step(optimizer, params, 2) == 0;
    cg_memory_release_cached();
    const cg_memory_stats before = cg_memory_get_stats();
    for (int step = 0; ok && step < 4; step++)
        ok = cg_optimizer_step(optimizer, params, 2) == 0;
    const cg_memory_stats after = cg_memory_get_stats();
    cg_optimizer_free(optimizer);
    for (int i = 0; i < 2; i++) {
        cg_release(grads[i]);
        cg_release(params[i]);
    }
    CHECK(ok);
    CHECK(after.system_allocs == before.system_allocs);
    CHECK(after.live_bytes == before.live_bytes);
}

TEST(optimizer_steps_allocate_nothing_after_the_first) {
    for (int k = 0; k < CG_OPTIMIZER_COUNT && !test_failed(); k++) {
        cg_optimizer_options options = cg_optimizer_defaults((cg_optimizer_kind)k);
        options.clip_norm = 0.5;
        if (k == CG_OPTIMIZER_SGD || k == CG_OPTIMIZER_RMSPROP) options.momentum = 0.9;
        check_steps_allocate_nothing(cg_optimizer_new((cg_optimizer_kind)k, &options));
    }
}

/* ----- schedules ----- */

TEST(lr_schedules_follow_their_closed_forms) {
    const cg_lr_schedule constant = {.kind = CG_SCHEDULE_CONSTANT};
    CHECK(cg_lr_schedule_rate(&constant, 0.1, 7) == 0.1);
    const cg_lr_schedule step = {.kind = CG_SCHEDULE_STEP, .step_size = 2, .gamma = 0.5};
    const double step_rates[] = {0.1, 0.1, 0.05, 0.05, 0.025};
    for (int epoch = 0; epoch < 5; epoch++)
        CHECK_NEAR(cg_lr_schedule_rate(&step, 0.1, epoch), step_rates[epoch], 1e-15);
    const cg_lr_schedule exponential = {.kind = CG_SCHEDULE_EXPONENTIAL, .gamma = 0.9};
    CHECK_NEAR(cg_lr_schedule_rate(&exponential, 0.1, 0), 0.1, 1e-15);
    CHECK_NEAR(cg_lr_schedule_rate(&exponential, 0.1, 3), 0.0729, 1e-15);
    const cg_lr_schedule cosine = {.kind = CG_SCHEDULE_COSINE, .period = 10, .min_lr = 0.01};
    CHECK_NEAR(cg_lr_schedule_rate(&cosine, 0.1, 0), 0.1, 1e-15);
    CHECK_NEAR(cg_lr_schedule_rate(&cosine, 0.1, 5), 0.055, 1e-15);
    CHECK_NEAR(cg_lr_schedule_rate(&cosine, 0.1, 10), 0.01, 1e-15);
    /* Like CosineAnnealingLR's closed form, the rate rises again after the period. */
    CHECK_NEAR(cg_lr_schedule_rate(&cosine, 0.1, 15), 0.055, 1e-15);
    CHECK_NEAR(cg_lr_schedule_rate(&cosine, 0.1, 20), 0.1, 1e-15);
}

TEST(lr_schedules_without_a_length_are_constant) {
    const cg_lr_schedule step = {.kind = CG_SCHEDULE_STEP, .step_size = 0, .gamma = 0.5};
    const cg_lr_schedule cosine = {.kind = CG_SCHEDULE_COSINE, .period = 0, .min_lr = 0.01};
    const cg_lr_schedule negative = {.kind = CG_SCHEDULE_COSINE, .period = -3};
    for (int epoch = 0; epoch < 4; epoch++) {
        CHECK(cg_lr_schedule_rate(&step, 0.1, epoch) == 0.1);
        CHECK(cg_lr_schedule_rate(&cosine, 0.1, epoch) == 0.1);
        CHECK(cg_lr_schedule_rate(&negative, 0.1, epoch) == 0.1);
    }
}

TEST(lr_schedule_rejects_invalid_arguments) {
    const cg_lr_schedule exponential = {.kind = CG_SCHEDULE_EXPONENTIAL, .gamma = 0.9};
    const cg_lr_schedule unset_gamma = {.kind = CG_SCHEDULE_STEP, .step_size = 3};
    const cg_lr_schedule unknown = {.kind = (cg_schedule_kind)42};
    CHECK_ERROR(cg_lr_schedule_rate(NULL, 0.1, 0), "schedule is NULL");
    CHECK_ERROR(cg_lr_schedule_rate(&exponential, 0.1, -1), "epoch -1 is negative");
    CHECK_ERROR(cg_lr_schedule_rate(&unset_gamma, 0.1, 0), "gamma must be positive");
    CHECK_ERROR(cg_lr_schedule_rate(&unknown, 0.1, 0), "unknown schedule kind 42");
}
