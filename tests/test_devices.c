/* Devices without a GPU: parsing device names, the clear error of asking for a GPU that is not
 * there (after which the CPU keeps working), and the device calls that act on the CPU. */
#include <string.h>

#include "nn/device_batches.h"
#include "test.h"

TEST(devices_parse_cpu_cuda_and_cuda_n) {
    cg_device device;
    CHECK(cg_device_parse("cpu", &device) == 0);
    CHECK(device.type == CG_DEVICE_CPU);
    CHECK(cg_device_parse("cuda", &device) == 0);
    CHECK(device.type == CG_DEVICE_CUDA && device.index == 0);
    CHECK(cg_device_parse("cuda:3", &device) == 0);
    CHECK(device.type == CG_DEVICE_CUDA && device.index == 3);
    static const char *const bad[] = {"gpu",     "cuda:", "cuda:-1",          "cuda:+1",
                                      "cuda:1x", "CPU",   "cuda:99999999999", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERROR(cg_device_parse(bad[i], &device), "is not a device");
    CHECK_ERROR(cg_device_parse(NULL, &device), "device");
}

TEST(devices_without_a_gpu_fail_clearly_and_the_cpu_keeps_working) {
    if (cg_cuda_device_count() > 0) SKIP("a CUDA device is present (the cuda_* tests cover it)");
    CHECK(!cg_cuda_is_available());
    CHECK(strstr(cg_last_error(), "no CUDA device") != NULL);
    cg_scope_begin();
    cg_tensor *x = cg_ones(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR(cg_to_device(x, cg_device_cuda(0)), "cuda:0 is not available");
    CHECK_ERROR(cg_zeros_on(CG_SHAPE(2), CG_FLOAT32, cg_device_cuda(1)), "cuda:1 is not available");
    cg_memory_stats stats;
    CHECK_ERROR(cg_cuda_memory_stats(0, &stats), "cuda:0 is not available");
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK_ERROR(cg_model_to_device(model, cg_device_cuda(0)), "cg_model_to_device: cuda:0");
    CHECK(cg_model_device(model).type == CG_DEVICE_CPU);
    /* The CPU path is untouched. */
    CHECK_NEAR(cg_item(cg_sum(cg_mul_scalar(x, 2.0), CG_ALL_DIMS, false)), 12.0, 0);
    CHECK(cg_model_build(model, CG_SHAPE(3)) == 0);
    CHECK(cg_model_forward(model, x, false) != NULL);
    cg_model_free(model);
    cg_scope_end();
}

TEST(devices_cpu_creation_and_copies) {
    cg_scope_begin();
    cg_tensor *full = cg_full_on(CG_SHAPE(2, 2), 1.5, CG_FLOAT64, cg_device_cpu());
    CHECK(full && cg_tensor_device(full).type == CG_DEVICE_CPU);
    CHECK_NEAR(cg_item(cg_sum(full, CG_ALL_DIMS, false)), 6.0, 0);
    CHECK_NEAR(
        cg_item(cg_sum(cg_zeros_on(CG_SHAPE(3), CG_INT32, cg_device_cpu()), CG_ALL_DIMS, false)),
        0.0, 0);
    CHECK(cg_empty_on(CG_SHAPE(4), CG_UINT8, cg_device_cpu()) != NULL);
    /* To the device it is on: the same data, and the gradient flows through. */
    cg_tensor *x = cg_set_requires_grad(cg_arange(0, 3, 1, CG_FLOAT64), true);
    cg_tensor *same = cg_to_device(x, cg_device_cpu());
    CHECK(cg_backward(cg_sum(cg_mul(same, same), CG_ALL_DIMS, false)) == 0);
    CHECK_NEAR(cg_get(cg_grad(x), (const int64_t[]){2}), 4.0, 0);
    cg_zero_grad(x);
    cg_scope_end();
}

TEST(devices_model_on_the_cpu_stays_there) {
    cg_model *model = cg_sequential(cg_layer_dense(3, CG_ACTIVATION_RELU));
    CHECK(cg_model_device(model).type == CG_DEVICE_CPU);
    CHECK(cg_model_to_device(model, cg_device_cpu()) == 0);
    CHECK(cg_model_build(model, CG_SHAPE(2)) == 0);
    int count;
    cg_tensor *const *params = cg_model_parameters(model, &count);
    CHECK(count == 2 && cg_tensor_device(params[0]).type == CG_DEVICE_CPU);
    CHECK_ERROR(cg_model_to_device(NULL, cg_device_cpu()), "model is NULL");
    cg_model_free(model);
}

TEST(devices_tf32_setting_is_per_thread_and_off_by_default) {
    CHECK(!cg_is_tf32_enabled());
    CHECK(!cg_set_tf32_enabled(true));
    CHECK(cg_is_tf32_enabled());
    CHECK(cg_set_tf32_enabled(false));
    CHECK(!cg_is_tf32_enabled());
}

/* The bookkeeping of batches moved one ahead (nn/device_batches.c), run with the CPU as the
 * target: claimed to come from another device, the batches pass through the wrapper, which must
 * hand out each batch of the plain source once, in order, epoch after epoch, and free the one on
 * its way when dropped early. */
TEST(devices_moved_batches_match_the_source_batch_for_batch) {
    cg_scope_begin();
    cg_tensor *x = cg_reshape(cg_arange(0, 30, 1, CG_FLOAT32), CG_SHAPE(10, 3));
    cg_tensor *y = cg_arange(0, 10, 1, CG_INT64);
    cg_batch_source *plain = cg_tensor_batches(x, y, 4, true, 11);
    cg_batch_source *moved = cg_batches_on_device(cg_tensor_batches(x, y, 4, true, 11),
                                                  cg_device_cuda(0), cg_device_cpu());
    CHECK(plain && moved && moved != plain);
    CHECK(cg_batch_source_batches(moved) == 3);
    for (int epoch = 0; epoch < 2; epoch++) {
        CHECK(cg_batch_source_start_epoch(plain, epoch) == 0);
        CHECK(cg_batch_source_start_epoch(moved, epoch) == 0);
        for (int batch = 0; batch < 4; batch++) {
            cg_scope_begin();
            cg_tensor *px, *py, *mx, *my;
            const int got_plain = cg_batch_source_next(plain, &px, &py);
            const int got_moved = cg_batch_source_next(moved, &mx, &my);
            CHECK(got_plain == got_moved);
            if (got_plain == 1) {
                CHECK_TENSOR_CLOSE(mx, px, 0, 0);
                CHECK_TENSOR_CLOSE(my, py, 0, 0);
            }
            cg_scope_end();
        }
    }
    /* Dropped with a batch on its way. */
    CHECK(cg_batch_source_start_epoch(moved, 2) == 0);
    cg_batch_source_free(moved);
    cg_batch_source_free(plain);
    cg_scope_end();
}
