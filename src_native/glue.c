#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "kernels.h"

static PyObject *gmp_version_py(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyUnicode_FromString(fc_gmp_version());
}

static PyMethodDef methods[] = {
    {"gmp_version", gmp_version_py, METH_NOARGS, "Version of the GMP library linked in."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_native", "fedcrypto native GMP kernel", -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&moduledef); }
