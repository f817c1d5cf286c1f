#include "cem_native_private.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *cem_last_error(void) { return last_error; }

void cem_set_error(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
}

void cem_set_error_v(const char *format, va_list args) {
    vsnprintf(last_error, sizeof last_error, format, args);
}

void cem_clear_error(void) { last_error[0] = 0; }
