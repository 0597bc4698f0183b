/* The check shared by the layers that take images: convolution and pooling. */
#include "core/error.h"
#include "nn/layers.h"

int cg_check_image_input(cg_shape input_shape, int64_t window, const char *window_name) {
    char text[64];
    if (input_shape.ndim != 3) {
        cg_error_set("expects samples of shape (C, H, W), got %s (images need an input line "
                     "C H W, not a flattened vector)",
                     cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    if (window > input_shape.dims[1] || window > input_shape.dims[2]) {
        cg_error_set("the %lldx%lld %s is larger than the %lldx%lld input (samples %s)",
                     (long long)window, (long long)window, window_name,
                     (long long)input_shape.dims[1], (long long)input_shape.dims[2],
                     cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    return 0;
}
