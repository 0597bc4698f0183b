/* Learning-rate schedules in closed form, as torch.optim.lr_scheduler's StepLR, ExponentialLR and
 * CosineAnnealingLR compute them. */
#include <math.h>

#include "cgrad.h"
#include "core/error.h"

static const double pi = 3.14159265358979323846;

static bool check_gamma(const cg_lr_schedule *schedule) {
    if (schedule->gamma > 0 && isfinite(schedule->gamma)) return true;
    /* A zero gamma is almost always a field left unset; a rate of 0 would train nothing. */
    cg_error_set("lr schedule: gamma must be positive and finite, got %g", schedule->gamma);
    return false;
}

double cg_lr_schedule_rate(const cg_lr_schedule *schedule, double initial_rate, int epoch) {
    if (!schedule) {
        cg_error_set("lr schedule: schedule is NULL");
        return NAN;
    }
    if (epoch < 0) {
        cg_error_set("lr schedule: epoch %d is negative", epoch);
        return NAN;
    }
    switch (schedule->kind) {
    case CG_SCHEDULE_CONSTANT: return initial_rate;
    case CG_SCHEDULE_STEP:
        if (schedule->step_size <= 0) return initial_rate;
        if (!check_gamma(schedule)) return NAN;
        return initial_rate * pow(schedule->gamma, (double)(epoch / schedule->step_size));
    case CG_SCHEDULE_EXPONENTIAL:
        if (!check_gamma(schedule)) return NAN;
        return initial_rate * pow(schedule->gamma, (double)epoch);
    case CG_SCHEDULE_COSINE:
        if (schedule->period <= 0) return initial_rate;
        return schedule->min_lr +
               (initial_rate - schedule->min_lr) * (1 + cos(pi * epoch / schedule->period)) / 2;
    }
    cg_error_set("lr schedule: unknown schedule kind %d", (int)schedule->kind);
    return NAN;
}
