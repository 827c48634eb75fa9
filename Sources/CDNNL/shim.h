#pragma once
// oneDNN (Debian's libdnnl-dev 2.6, built on GNU OpenMP) and the libgomp entry points telme's
// own parallel loops use, so that the matrix products and the elementwise work between them
// share one thread pool.
#include <oneapi/dnnl/dnnl.h>

/// libgomp's ABI for `#pragma omp parallel num_threads(n)`: runs `fn(data)` on n threads
/// (the caller is thread 0) and returns when all are done.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_get_max_threads(void);
void omp_set_num_threads(int num_threads);
int omp_in_parallel(void);
