/* A batch source whose batches are moved to a device, the next batch's copy running while the
 * caller computes on the current one. fit, evaluate and predict put their sources behind it when
 * the model is not where the data is. */
#ifndef CG_NN_DEVICE_BATCHES_H
#define CG_NN_DEVICE_BATCHES_H

#include "nn/batch_source.h"

/* source (taken over: freed with the result, or at once on failure) with its batches, which live
 * on data_device, handed out on device; source itself when the two are the same. Host batches
 * go to a GPU through pinned memory, asynchronously. NULL with an error. */
cg_batch_source *cg_batches_on_device(cg_batch_source *source, cg_device data_device,
                                      cg_device device);

#endif
