/* cgrad high level: layers, sequential models, losses, metrics, optimizers, fit with callbacks,
 * training history and its charts, save and load. Included by cgrad.h.
 *
 * Ownership: a model owns the layers added to it and the optimizer given to cg_compile; cg_fit
 * owns the callbacks it is given; the caller frees models, histories and unattached objects with
 * their _free function. Errors follow the core convention (NULL or -1 plus cg_last_error()). */
#ifndef CGRAD_NN_H
#define CGRAD_NN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad/plot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_layer cg_layer;
typedef struct cg_model cg_model;
typedef struct cg_optimizer cg_optimizer;
typedef struct cg_callback cg_callback;
typedef struct cg_history cg_history;
typedef struct cg_fit_context cg_fit_context;

/* ---------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------- */

/* cg_activation, the enum of activations, is declared in cgrad.h: cg_linear and cg_conv2d take
 * it too. */

/* Applies an activation (a new tensor; NONE gives an alias of x). */
cg_tensor *cg_activate(const cg_tensor *x, cg_activation activation);
/* "relu", "sigmoid", ... ("none" for NONE). */
const char *cg_activation_name(cg_activation activation);
/* Parses a name as printed by cg_activation_name; -1 with an error for an unknown name. */
int cg_activation_parse(const char *name, cg_activation *activation);

/* ---------------------------------------------------------------------------------------------
 * Layers (built-in). Shapes are per sample; a batch dim is added in front at run time.
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    CG_INIT_AUTO = 0,       /* He normal before relu-like activations, Glorot uniform otherwise */
    CG_INIT_GLOROT_UNIFORM,
    CG_INIT_HE_NORMAL,
    CG_INIT_ZEROS,
} cg_initializer;

typedef struct {
    cg_activation activation;
    bool no_bias;
    cg_initializer initializer;
} cg_dense_options;

/* A fully connected layer with units outputs (the input size comes from the model's input). */
cg_layer *cg_layer_dense(int64_t units, cg_activation activation);
cg_layer *cg_layer_dense_with(int64_t units, const cg_dense_options *options);
/* A layer that only applies an activation. */
cg_layer *cg_layer_activation(cg_activation activation);
/* Dropout with the given rate in training mode; the identity in evaluation mode. */
cg_layer *cg_layer_dropout(double rate);
/* Flattens each sample to one dim. */
cg_layer *cg_layer_flatten(void);
/* Batch normalisation over the batch for (N, F) inputs, and (N, C, H, W) per channel; running
 * statistics are used in evaluation mode. Defaults: momentum 0.1, epsilon 1e-5. */
cg_layer *cg_layer_batch_norm(void);

/* Options of cg_layer_conv2d; zero fields (or NULL) mean stride 1, "valid" padding (none), no
 * activation and a bias. padding_same pads so that the output has ceil(size / stride) rows and
 * columns, as Keras' padding="same". */
typedef struct {
    int stride;
    bool padding_same;
    cg_activation activation;
    bool no_bias;
} cg_conv2d_layer_options;

/* A 2-D convolution layer with filters kernel_size x kernel_size kernels over samples (C, H, W),
 * giving (filters, OH, OW): parameters "weight" (filters, C, K, K) and "bias" (filters),
 * initialised like a dense layer's with fan-in C K K. Errors: filters or kernel_size not
 * positive, a negative stride, an unknown activation; when built, samples that are not (C, H, W)
 * and, with valid padding, a kernel larger than the input. */
cg_layer *cg_layer_conv2d(int64_t filters, int kernel_size, const cg_conv2d_layer_options *options);
/* The largest value (the mean) of each size x size window of samples (C, H, W), the windows side
 * by side: (C, H / size, W / size), a partial window at the edge dropped. Errors: size not
 * positive; when built, samples that are not (C, H, W) or smaller than a window. */
cg_layer *cg_layer_max_pool2d(int size);
cg_layer *cg_layer_avg_pool2d(int size);
/* The mean of each channel of samples (C, H, W): (C), e.g. before the output layer of a
 * convolutional network. Errors when built: samples that are not (C, H, W). */
cg_layer *cg_layer_global_avg_pool2d(void);

/* ---------------------------------------------------------------------------------------------
 * Custom layers: a forward written with low-level ops; backward comes from autograd.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    /* The type name shown in summaries and saved architectures. */
    const char *type;
    /* Creates the parameters for samples of input_shape (per sample) and sets *output_shape.
     * Called once, when the model is built. */
    int (*build)(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape);
    /* Computes a batch (batch dim first). Returns a new tensor, or NULL with an error. */
    cg_tensor *(*forward)(cg_layer *layer, const cg_tensor *x, bool training);
    /* Optional: writes the layer's spec line arguments (e.g. "16 relu"), so that a saved model
     * can be rebuilt through cg_layer_register. Returns 0 or -1. */
    int (*config)(const cg_layer *layer, char *buffer, size_t size);
    /* Optional: frees state when the layer is freed. */
    void (*destroy)(void *state);
} cg_layer_class;

/* A layer of a user-defined class with user state (owned by the layer if destroy is set). */
cg_layer *cg_layer_new(const cg_layer_class *layer_class, void *state);
void *cg_layer_state(const cg_layer *layer);
const char *cg_layer_type(const cg_layer *layer);
/* Registers a trainable parameter (takes ownership of value, marks it requires_grad); returns it
 * (borrowed). Names are local ("weight"); the model prefixes the layer index ("0.weight").
 * A value owned by a scope is taken out of it, so a build that runs inside a training step's
 * scope keeps its parameters. On failure value is released. */
cg_tensor *cg_layer_add_parameter(cg_layer *layer, const char *name, cg_tensor *value);
/* Registers non-trainable state that is saved with the model (e.g. running statistics). */
cg_tensor *cg_layer_add_buffer(cg_layer *layer, const char *name, cg_tensor *value);
/* A parameter or buffer by local name (borrowed), or NULL. */
cg_tensor *cg_layer_tensor(const cg_layer *layer, const char *name);
/* Frees a layer that was never added to a model. */
void cg_layer_free(cg_layer *layer);

/* Makes spec lines of type `name` (and saved models with such layers) loadable: factory builds a
 * layer from the arguments after the type name. Returns 0 or -1. */
typedef cg_layer *(*cg_layer_factory)(const char *arguments);
int cg_layer_register(const char *name, cg_layer_factory factory);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */

/* A sequential model of the given layers (the model owns them). A NULL among them (a layer
 * constructor that failed) makes the whole call fail and frees the other layers. */
cg_model *cg_sequential_of(cg_layer *const *layers, int count);
#define cg_sequential(...)                                                                         \
    cg_sequential_of((cg_layer *const[]){__VA_ARGS__},                                             \
                     (int)(sizeof((cg_layer *const[]){__VA_ARGS__}) / sizeof(cg_layer *)))
/* Appends a layer (owned by the model from then on, even on failure). */
int cg_model_add(cg_model *model, cg_layer *layer);
/* Creates every parameter for samples of input_shape. fit, evaluate and predict build an unbuilt
 * model from their data. Building again with another shape is an error. */
int cg_model_build(cg_model *model, cg_shape input_shape);
bool cg_model_is_built(const cg_model *model);
cg_shape cg_model_input_shape(const cg_model *model);
cg_shape cg_model_output_shape(const cg_model *model);
/* Runs the layers on a batch, recording the graph when grad mode is on. training selects
 * dropout and batch-norm behaviour. */
cg_tensor *cg_model_forward(cg_model *model, const cg_tensor *x, bool training);
/* Prints each layer with its output shape and parameter count, and the totals (like Keras). */
int cg_model_summary(const cg_model *model, FILE *out);
int cg_model_layer_count(const cg_model *model);
cg_layer *cg_model_layer(const cg_model *model, int index);
/* The trainable parameters in order (borrowed array of borrowed tensors). */
cg_tensor *const *cg_model_parameters(const cg_model *model, int *count);
/* The state-dict name of parameter i ("0.weight"). */
const char *cg_model_parameter_name(const cg_model *model, int index);
/* Number of trainable scalars. */
int64_t cg_model_parameter_total(const cg_model *model);
/* Drops the gradients of every parameter. */
void cg_model_zero_grad(cg_model *model);
/* Converts the floating-point parameters and buffers of the built layers to dtype (float32 or
 * float64, e.g. float64 for gradient checks), dropping their gradients. Call it before training:
 * an optimizer's state refers to the old tensors. 0 or -1 with an error. */
int cg_model_to_dtype(cg_model *model, cg_dtype dtype);
/* Moves the model to device: the parameters and buffers of its built layers (in place, so that
 * pointers to them stay valid; their gradients are dropped), the compiled optimizer's state, and
 * the layers built later. fit, evaluate and predict then run there, moving each batch to the
 * device (predict's outputs stay there). 0, or -1 with an error for a device that is not
 * available; a failed move may leave the model partly moved, to be moved again. */
int cg_model_to_device(cg_model *model, cg_device device);
/* The device the model's tensors live on (the CPU until moved). */
cg_device cg_model_device(const cg_model *model);
/* Free-form text metadata saved with the model (preprocessing statistics, class names...). */
int cg_model_set_metadata(cg_model *model, const char *key, const char *value);
const char *cg_model_metadata(const cg_model *model, const char *key);
void cg_model_free(cg_model *model);

/* ---------------------------------------------------------------------------------------------
 * Losses and metrics
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    CG_LOSS_CROSS_ENTROPY = 0,    /* logits (N, C) and int64 class labels (N) */
    CG_LOSS_BINARY_CROSS_ENTROPY, /* logits and 0/1 targets of the same shape */
    CG_LOSS_MSE,
    CG_LOSS_MAE,
    CG_LOSS_COUNT
} cg_loss;

enum {
    CG_METRIC_ACCURACY = 1 << 0,        /* argmax of the outputs against class labels */
    CG_METRIC_BINARY_ACCURACY = 1 << 1, /* logits > 0 against 0/1 targets */
    CG_METRIC_MAE = 1 << 2,             /* mean absolute error */
};

/* The mean loss of a batch. */
cg_tensor *cg_loss_compute(cg_loss loss, const cg_tensor *output, const cg_tensor *target);
const char *cg_loss_name(cg_loss loss);
int cg_loss_parse(const char *name, cg_loss *loss);

/* ---------------------------------------------------------------------------------------------
 * Optimizers
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    CG_OPTIMIZER_SGD = 0,
    CG_OPTIMIZER_ADAM,
    CG_OPTIMIZER_ADAMW,
    CG_OPTIMIZER_RMSPROP,
    CG_OPTIMIZER_COUNT
} cg_optimizer_kind;

/* Every option of every optimizer; cg_optimizer_defaults fills the usual values (PyTorch's) and
 * leaves the options the kind does not use at 0, where they must stay. */
typedef struct {
    double learning_rate;
    double momentum;     /* SGD; RMSprop */
    bool nesterov;       /* SGD */
    double beta1, beta2; /* Adam, AdamW */
    double epsilon;      /* Adam, AdamW, RMSprop */
    double rho;          /* RMSprop smoothing */
    /* L2 penalty added to the gradient (SGD, Adam, RMSprop) or decoupled decay (AdamW). */
    double weight_decay;
    /* When > 0, gradients are scaled so that their global L2 norm is at most clip_norm, with
     * the factor of torch.nn.utils.clip_grad_norm_. The scaled values feed the update only: the
     * gradients the caller reads with cg_grad are left unchanged. */
    double clip_norm;
} cg_optimizer_options;

/* Learning rate 0.01 for SGD and RMSprop, 0.001 for Adam and AdamW; betas 0.9 and 0.999, epsilon
 * 1e-8, rho 0.99, AdamW weight decay 0.01; everything else 0. */
cg_optimizer_options cg_optimizer_defaults(cg_optimizer_kind kind);
/* A new optimizer (NULL options: the defaults) that the caller frees, unless it is given to
 * cg_compile. Fails with an error naming the option unless learning_rate > 0, momentum, rho and
 * the betas are in [0, 1), epsilon > 0, weight_decay and clip_norm >= 0, nesterov comes with a
 * momentum, and every option the kind does not use is 0. */
cg_optimizer *cg_optimizer_new(cg_optimizer_kind kind, const cg_optimizer_options *options);
cg_optimizer *cg_sgd(double learning_rate, double momentum, bool nesterov);
cg_optimizer *cg_adam(double learning_rate);
cg_optimizer *cg_adamw(double learning_rate, double weight_decay);
cg_optimizer *cg_rmsprop(double learning_rate);
/* Updates params from their gradients (params without a gradient are skipped). The optimizer
 * keeps per-parameter state by position, so pass the same list every step. 0 or -1. */
int cg_optimizer_step(cg_optimizer *optimizer, cg_tensor *const *params, int count);
double cg_optimizer_learning_rate(const cg_optimizer *optimizer);
/* Accepts any finite rate >= 0 (a schedule may reach 0); otherwise reports an error and keeps the
 * current rate. */
void cg_optimizer_set_learning_rate(cg_optimizer *optimizer, double learning_rate);
cg_optimizer_kind cg_optimizer_get_kind(const cg_optimizer *optimizer);
/* The options the optimizer runs with (learning_rate as last set), e.g. to save and rebuild it. */
cg_optimizer_options cg_optimizer_get_options(const cg_optimizer *optimizer);
/* "sgd", "adam", "adamw", "rmsprop" ("invalid" for another value). */
const char *cg_optimizer_name(cg_optimizer_kind kind);
/* Parses a name as printed by cg_optimizer_name; -1 with an error for an unknown name. */
int cg_optimizer_parse(const char *name, cg_optimizer_kind *kind);
void cg_optimizer_free(cg_optimizer *optimizer);

/* Learning-rate schedules: the rate for an epoch from the initial rate. */
typedef enum {
    CG_SCHEDULE_CONSTANT = 0,
    CG_SCHEDULE_STEP,        /* initial * gamma^(epoch / step_size) */
    CG_SCHEDULE_EXPONENTIAL, /* initial * gamma^epoch */
    CG_SCHEDULE_COSINE,      /* min_lr + (initial - min_lr) (1 + cos(pi epoch / period)) / 2 */
} cg_schedule_kind;

typedef struct {
    cg_schedule_kind kind;
    int step_size;
    double gamma;
    int period;
    double min_lr;
} cg_lr_schedule;

/* The rate at epoch (0-based), as torch.optim.lr_scheduler computes it in closed form (the cosine
 * rises again after period). A step_size or period <= 0 makes STEP or COSINE constant. NaN with an
 * error for a NULL schedule, a negative epoch, an unknown kind, or a gamma that is not positive
 * and finite when STEP or EXPONENTIAL uses it. */
double cg_lr_schedule_rate(const cg_lr_schedule *schedule, double initial_rate, int epoch);

/* ---------------------------------------------------------------------------------------------
 * Compile, fit, evaluate, predict
 * ------------------------------------------------------------------------------------------- */

/* Sets the loss, the optimizer (owned by the model from then on) and the metrics (CG_METRIC_*
 * flags). */
int cg_compile(cg_model *model, cg_optimizer *optimizer, cg_loss loss, unsigned metrics);
cg_optimizer *cg_model_optimizer(const cg_model *model);
cg_loss cg_model_loss(const cg_model *model);
unsigned cg_model_metrics(const cg_model *model);

typedef enum {
    CG_VERBOSE_AUTO = 0, /* a progress bar on a terminal, one line per epoch otherwise */
    CG_VERBOSE_SILENT,
    CG_VERBOSE_BAR,
    CG_VERBOSE_LINES,
} cg_verbosity;

typedef struct {
    cg_callback *const *items;
    int count;
} cg_callback_list;

#define CG_CALLBACKS(...)                                                                          \
    ((cg_callback_list){(cg_callback *const[]){__VA_ARGS__},                                       \
                        (int)(sizeof((cg_callback *const[]){__VA_ARGS__}) / sizeof(cg_callback *))})

/* Options of cg_fit; zero means the default for every field. */
typedef struct {
    int epochs;      /* default 1 */
    int batch_size;  /* default 32 */
    bool no_shuffle; /* keep the sample order (shuffled every epoch by default) */
    uint64_t seed;   /* shuffling order and dropout masks; 0 means a fixed default */
    /* Validation: an explicit set, or this fraction of the samples taken from the end. */
    const cg_tensor *validation_x, *validation_y;
    double validation_split;
    int initial_epoch; /* to continue a run: epochs counts from here */
    cg_verbosity verbose;
    FILE *output; /* progress output; default stdout */
    /* Callbacks, owned by fit from the call on (freed when it returns, even on failure). */
    cg_callback_list callbacks;
    /* A training checkpoint (cg_training_checkpoint) to continue from: fit puts back its weights,
     * optimizer state, random stream, history and callback states and goes on at its epoch and
     * batch. The model, the optimizer's options, seed, batch_size, no_shuffle and the callbacks
     * (in order) must be those of the run that wrote it; the data too, for an exact resume. */
    const char *resume_from;
} cg_fit_options;

/* Trains a compiled model on x (samples first) and y (labels or targets); returns the history
 * (the caller frees it) or NULL with an error. A callback's stop ends training normally. */
cg_history *cg_fit(cg_model *model, const cg_tensor *x, const cg_tensor *y,
                   const cg_fit_options *options);

typedef struct {
    double loss;
    double accuracy;        /* NaN when not a compiled metric */
    double binary_accuracy; /* NaN when not a compiled metric */
    double mae;             /* NaN when not a compiled metric */
    int64_t samples;
} cg_evaluation;

/* The loss and compiled metrics over x and y in evaluation mode (batch_size 0: 256). */
int cg_evaluate(cg_model *model, const cg_tensor *x, const cg_tensor *y, int batch_size,
                cg_evaluation *result);
/* The model's outputs for x in evaluation mode, batched, without a graph (a new tensor). */
cg_tensor *cg_predict(cg_model *model, const cg_tensor *x, int batch_size);

/* cg_fit on data sets (borrowed): batches of train, shuffled per (seed, epoch) exactly as cg_fit
 * shuffles, are assembled by a cg_loader on a background thread while the model trains, image
 * bytes becoming float32 (times the feature scale) batch by batch. validation, when not NULL, is
 * evaluated after each epoch; the validation fields of options must stay unset. Both data sets
 * need labels. Returns the history (the caller frees it) or NULL with an error. */
cg_history *cg_fit_dataset(cg_model *model, const cg_dataset *train, const cg_dataset *validation,
                           const cg_fit_options *options);
/* cg_evaluate over a data set with labels (batch_size 0: 256). 0, or -1 with an error. */
int cg_evaluate_dataset(cg_model *model, const cg_dataset *dataset, int batch_size,
                        cg_evaluation *result);
/* cg_predict over a data set's features, in its sample order (a new tensor). */
cg_tensor *cg_predict_dataset(cg_model *model, const cg_dataset *dataset, int batch_size);

/* ---------------------------------------------------------------------------------------------
 * History and charts
 * ------------------------------------------------------------------------------------------- */

/* Epochs recorded, and each series by name ("loss", "accuracy", "val_loss", "val_accuracy",
 * "lr", ...): an array of cg_history_epochs values, or NULL when not recorded. */
int cg_history_epochs(const cg_history *history);
int cg_history_series_count(const cg_history *history);
const char *cg_history_series_name(const cg_history *history, int index);
const double *cg_history_series(const cg_history *history, const char *name);
/* The epoch (0-based) at which a callback stopped training, or -1. */
int cg_history_stopped_epoch(const cg_history *history);
/* The epoch whose weights early stopping restored, or -1. */
int cg_history_best_epoch(const cg_history *history);
/* Why a callback stopped training ("loss is NaN at epoch 3, batch 17": epochs and batches
 * counted from 1, as the progress display shows them); "" when it did not. Owned by the history. */
const char *cg_history_stop_reason(const cg_history *history);
/* The training epoch (0-based) of recorded epoch index: index + initial_epoch for a continued
 * run. -1 with an error when out of range. */
int cg_history_epoch_index(const cg_history *history, int index);
/* Writes the training curves as an SVG chart: loss (train and validation) and, when recorded,
 * accuracy in a second panel, with axes, ticks, labels, a legend and the stopping epoch. */
int cg_history_plot_svg(const cg_history *history, const char *path, const char *title);
void cg_history_free(cg_history *history);

/* ---------------------------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------------------------- */

/* What a callback sees and may change. */
typedef struct {
    cg_model *model;
    int epoch, epochs;    /* current epoch (0-based) and the last epoch + 1 */
    int batch, batches;   /* current batch in the epoch and the number of batches */
    double batch_loss;    /* loss of the batch just ended (see wants_batch_values) */
    const cg_history *history;
    bool stop_training;   /* set to end fit after the current batch / epoch */
    char stop_reason[256];
    /* fit's own, read by cg_checkpoint_save; NULL outside fit. */
    const cg_fit_context *fit;
} cg_train_state;

/* The latest value of a logged quantity ("loss", "val_accuracy", ...) at epoch end; NaN when
 * absent. */
double cg_train_state_value(const cg_train_state *state, const char *name);

typedef int (*cg_callback_fn)(cg_train_state *state, void *userdata);

/* Any of the hooks may be NULL. A hook returning a negative value aborts fit with an error. */
typedef struct {
    cg_callback_fn on_train_begin;
    cg_callback_fn on_epoch_begin;
    cg_callback_fn on_batch_end;
    cg_callback_fn on_epoch_end;
    cg_callback_fn on_train_end;
    void (*destroy)(void *userdata);
    /* Optional: whether on_batch_end reads batch_loss or the running values (the history's row of
     * the running epoch) at this batch. Without it they are read before every on_batch_end; on a
     * GPU each read waits for the step, so a hook that reads now and then (a display) says when. */
    bool (*wants_batch_values)(const cg_train_state *state, void *userdata);
    /* Optional, for training checkpoints: writes the callback's state (counters, best values) as
     * text into buffer of size bytes; 0 or -1 with an error. */
    int (*save_state)(void *userdata, char *buffer, size_t size);
    /* Optional: puts back a state that save_state wrote, when fit resumes from a checkpoint
     * (after on_train_begin). 0, or -1 with an error. */
    int (*load_state)(void *userdata, const char *text);
} cg_callback_hooks;

cg_callback *cg_callback_new(const cg_callback_hooks *hooks, void *userdata);
void cg_callback_free(cg_callback *callback);

typedef enum { CG_MODE_AUTO = 0, CG_MODE_MIN, CG_MODE_MAX } cg_monitor_mode;

typedef struct {
    const char *monitor; /* default "val_loss" */
    double min_delta;
    int patience;
    cg_monitor_mode mode; /* AUTO: max for accuracy-like names, min otherwise */
    bool restore_best_weights;
} cg_early_stopping_options;

cg_callback *cg_early_stopping(const cg_early_stopping_options *options);
/* Saves the model to path (atomically) whenever the monitored value improves. */
cg_callback *cg_model_checkpoint(const char *path, const char *monitor, cg_monitor_mode mode);
/* Multiplies the learning rate by factor after patience epochs without improvement. */
cg_callback *cg_reduce_lr_on_plateau(const char *monitor, double factor, int patience,
                                     double min_lr);
/* Sets the learning rate at the start of each epoch from a schedule. */
cg_callback *cg_lr_scheduler(cg_lr_schedule schedule);
/* Stops training, naming the epoch and batch, when the loss becomes NaN or infinite; the reason
 * suggests anomaly detection (cg_set_anomaly_detection), which names the op that made it. For a
 * model on a GPU, where reading the loss waits for the step, it looks every 32 batches and at
 * each epoch's last (at the epoch's running loss too), so it may name a later batch. */
cg_callback *cg_terminate_on_nan(void);
/* Appends one row per epoch (epoch and every series) to a CSV file. */
cg_callback *cg_csv_logger(const char *path);
/* Reads a log written by cg_csv_logger back into a history (the caller frees it), e.g. to draw it
 * with cg_history_plot_svg. NULL with an error naming the file and line for anything else. */
cg_history *cg_history_read_csv(const char *path);
/* The progress display fit adds by itself according to verbose. */
cg_callback *cg_progress_bar(FILE *out, cg_verbosity verbose);

/* ---------------------------------------------------------------------------------------------
 * Save and load (safetensors: PyTorch state-dict names, architecture in __metadata__)
 * ------------------------------------------------------------------------------------------- */

/* Writes architecture, weights, buffers and metadata to path atomically (temporary file, fsync,
 * rename). The model must be built. */
int cg_model_save(const cg_model *model, const char *path);
/* Rebuilds a saved model; NULL with an error naming what is wrong for a malformed file. */
cg_model *cg_model_load(const char *path);

/* ---------------------------------------------------------------------------------------------
 * Training checkpoints: everything needed to continue training exactly (docs/reliability.md)
 * ------------------------------------------------------------------------------------------- */

/* Writes a training checkpoint to path atomically at each epoch end and, when every_batches > 0,
 * after every every_batches-th batch of an epoch too. fit runs it after the other callbacks, so
 * that it holds what they did. NULL with an error for an empty path or every_batches < 0. */
cg_callback *cg_training_checkpoint(const char *path, int every_batches);
/* Writes the training state to path atomically: the model (readable by cg_model_load), the
 * optimizer's state and options, this thread's random stream, the history and, inside fit, the
 * running epoch's totals and the callbacks' states. state->epoch and state->batch say where
 * training goes on (the next batch to train); state->history may be NULL. 0 or -1. */
int cg_checkpoint_save(const cg_train_state *state, const char *path);

typedef struct {
    int epoch, batch; /* where training goes on: the next batch to train */
} cg_checkpoint_position;

/* For hand-written loops: puts a checkpoint's weights, optimizer state and learning rate into a
 * built, compiled model of the same architecture and optimizer, and its random stream into this
 * thread's generator, and gives its position. -1 with an error naming the file and what does not
 * match; the model is then unchanged. */
int cg_checkpoint_load(cg_model *model, const char *path, cg_checkpoint_position *position);

/* ---------------------------------------------------------------------------------------------
 * Model specs: one layer per line ("input 4", "dense 16 relu", "dropout 0.2", ...)
 * ------------------------------------------------------------------------------------------- */

/* A model from spec text; errors name the line. An "input" first line builds the model. */
cg_model *cg_model_from_spec(const char *text);
cg_model *cg_model_from_spec_file(const char *path);
/* The spec text of a model (malloc'd; the caller frees it), or NULL with an error. */
char *cg_model_to_spec(const cg_model *model);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_NN_H */
