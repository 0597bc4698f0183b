/* MNIST (and Fashion-MNIST) by split name: the standard IDX file names, found in the data
 * directory and read as one data set. */
#include <stdio.h>
#include <string.h>

#include "cgrad.h"
#include "core/error.h"

enum { PATH_BYTES = 4096 };

cg_dataset *cg_mnist_read(const char *dir, const char *split) {
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)) {
        cg_error_set("cg_mnist_read: the split is \"train\" or \"t10k\", not %s%s%s",
                     split ? "\"" : "", split ? split : "NULL", split ? "\"" : "");
        return NULL;
    }
    char images_name[32], labels_name[32], images[PATH_BYTES], labels[PATH_BYTES];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", split);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", split);
    if (cg_data_path(images_name, dir, images, sizeof images) != 0 ||
        cg_data_path(labels_name, dir, labels, sizeof labels) != 0)
        return NULL;
    return cg_idx_read(images, labels);
}
