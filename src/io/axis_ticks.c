#include "io/axis_ticks.h"

#include <math.h>

/* Ratios within this of an integer count as that integer, so 0.6 / 0.2 is 3, not 2.9999. */
static const double ROUNDING_SLACK = 1e-9;

static double nice_step(double raw_step) {
    const double magnitude = pow(10.0, floor(log10(raw_step)));
    const double residual = raw_step / magnitude;
    if (residual <= 1.0 + ROUNDING_SLACK) return magnitude;
    if (residual <= 2.0 + ROUNDING_SLACK) return 2.0 * magnitude;
    if (residual <= 5.0 + ROUNDING_SLACK) return 5.0 * magnitude;
    return 10.0 * magnitude;
}

cg_axis_ticks cg_axis_ticks_for(double low, double high, int target) {
    if (!(high > low)) {
        const double half_width = low != 0.0 ? fabs(low) * 0.1 : 1.0;
        high = low + half_width;
        low -= half_width;
    }
    if (target < 1) target = 1;
    const double step = nice_step((high - low) / target);
    const double first_multiple = floor(low / step + ROUNDING_SLACK);
    const double last_multiple = ceil(high / step - ROUNDING_SLACK);
    const int decimals = (int)-floor(log10(step) + ROUNDING_SLACK);
    return (cg_axis_ticks){.first = first_multiple * step,
                           .step = step,
                           .count = (int)(last_multiple - first_multiple) + 1,
                           .decimals = decimals > 0 ? decimals : 0};
}

double cg_axis_tick_value(const cg_axis_ticks *ticks, int index) {
    const double multiple = round(ticks->first / ticks->step) + index;
    return multiple == 0.0 ? 0.0 : multiple * ticks->step;
}
