#ifndef CEM_NATIVE_PRIVATE_H
#define CEM_NATIVE_PRIVATE_H
#include "include/cem_native.h"
#include <stdarg.h>

void cem_set_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
void cem_set_error_v(const char *format, va_list args);
void cem_clear_error(void);
#endif
