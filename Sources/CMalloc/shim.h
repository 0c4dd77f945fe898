// CMalloc: glibc's malloc.h (malloc_trim), which the Glibc module does not export.
#pragma once
#if defined(__linux__)
#include <malloc.h>
#endif
