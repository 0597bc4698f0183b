/* Tick values for chart axes: 1, 2 or 5 times a power of ten, the steps people read at once. */
#ifndef CG_IO_AXIS_TICKS_H
#define CG_IO_AXIS_TICKS_H

typedef struct {
    double first, step; /* tick i is first + i * step */
    int count;          /* the axis runs from the first tick to the last */
    int decimals;       /* digits after the point that tell the ticks apart */
} cg_axis_ticks;

/* About target intervals of a 1-2-5 step whose ticks enclose [low, high]; an empty or reversed
 * range is widened around low. */
cg_axis_ticks cg_axis_ticks_for(double low, double high, int target);
/* The value of tick index (exact multiples of the step; never "-0"). */
double cg_axis_tick_value(const cg_axis_ticks *ticks, int index);

#endif
