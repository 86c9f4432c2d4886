#ifndef BUDGETRAIN_CZLIB_SHIM_H
#define BUDGETRAIN_CZLIB_SHIM_H
#include <zlib.h>
#endif
