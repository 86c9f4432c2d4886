#ifndef BUDGETRAIN_CBLAS_SHIM_H
#define BUDGETRAIN_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface plus its own controls (openblas_set_num_threads,
// openblas_get_corename, openblas_get_num_threads), which its cblas.h declares.
#include <cblas.h>
#endif
