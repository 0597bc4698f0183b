/* The per-thread error message behind cg_last_error(). */
#ifndef CG_CORE_ERROR_H
#define CG_CORE_ERROR_H

#include <stdarg.h>

/* Sets this thread's error message (printf format). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void cg_error_set(const char *format, ...);

#endif
