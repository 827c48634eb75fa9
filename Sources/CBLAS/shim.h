#pragma once
#include <cblas.h>

/// OpenBLAS's own thread control (not part of CBLAS proper).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
