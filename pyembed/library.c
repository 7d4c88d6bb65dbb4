//go:build !pystatic

/* The shared libpython's own path, for --version and for finding the interpreter beside it
 * (link_shared.go). */
#define _GNU_SOURCE 1
#include "pyembed.h"
#include <dlfcn.h>

const char *gw_library_path(void) {
    Dl_info info;
    if (dladdr((void *)Py_InitializeFromConfig, &info) && info.dli_fname)
        return info.dli_fname;
    return "";
}
