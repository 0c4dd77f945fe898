// COpenBLAS: the CBLAS interface of Debian's libopenblas-dev, plus the thread-count controls.
#pragma once
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
