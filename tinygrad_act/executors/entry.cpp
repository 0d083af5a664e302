// The compiled executor's entry for the common call: a CPython extension that checks the arrays,
// allocates the outputs and calls one kernel of a library built from kernels/*.cu, in place of
// ctypes (tinygrad_act/executors/compiled.py: _launch_contiguous). On a small array the call is
// the cost: ctypes, the array of addresses and the checks in Python took ~5 us of a ~6 us launch.
//
// plan(address, typenum, inputs, outputs, params, mask_input, mask_outputs, packs_mask) makes a
// Plan for one kernel and one dtype: `address` is the kernel's extern "C" function
// (void(void* const* arrays, const double* params, long long size, long long n, int threads,
// int ftz)), `mask_input` the position of the packed mask among the inputs (-1: none), bit k of
// `mask_outputs` set where output k is a packed mask. Calling it, plan(*inputs, *params, threads,
// ftz), returns the output (a tuple for several), or None where the arrays are not its case:
// every input a C-contiguous, aligned, native-order numpy.ndarray, the float ones of the plan's
// dtype and one shape, a mask input uint8 with a bit for each element. Python then takes the
// general path, which says what is wrong where something is.

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace {

typedef void (*Kernel)(void* const*, const double*, long long, long long, int, int);

constexpr int MOST = 16;  // arrays, and parameters, a kernel may take

struct Plan {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Kernel kernel;
    int typenum, inputs, outputs, params, mask_input, packs_mask;
    unsigned mask_outputs;
};

bool usable(PyObject* a) {
    if (!PyArray_CheckExact(a)) return false;
    PyArrayObject* array = reinterpret_cast<PyArrayObject*>(a);
    return PyArray_IS_C_CONTIGUOUS(array) && PyArray_ISALIGNED(array) &&
           PyArray_ISNOTSWAPPED(array);
}

PyObject* call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    const Plan* plan = reinterpret_cast<const Plan*>(self);
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != nullptr || nargs != plan->inputs + plan->params + 2) {
        PyErr_Format(PyExc_TypeError, "a kernel plan takes %d arrays, %d parameters, threads "
                     "and ftz, by position", plan->inputs, plan->params);
        return nullptr;
    }
    PyObject* first = args[plan->mask_input == 0 ? 1 : 0];
    if (!usable(first) || PyArray_TYPE(reinterpret_cast<PyArrayObject*>(first)) != plan->typenum)
        Py_RETURN_NONE;
    PyArrayObject* shape_of = reinterpret_cast<PyArrayObject*>(first);
    const int ndim = PyArray_NDIM(shape_of);
    npy_intp* dims = PyArray_DIMS(shape_of);
    const npy_intp n = PyArray_SIZE(shape_of), nbytes = (n + 7) / 8;
    void* pointers[MOST];
    for (int i = 0; i < plan->inputs; ++i) {
        if (!usable(args[i])) Py_RETURN_NONE;
        PyArrayObject* a = reinterpret_cast<PyArrayObject*>(args[i]);
        if (i == plan->mask_input) {
            if (PyArray_TYPE(a) != NPY_UINT8 || PyArray_SIZE(a) < nbytes) Py_RETURN_NONE;
        } else if (PyArray_TYPE(a) != plan->typenum || PyArray_NDIM(a) != ndim ||
                   !PyArray_CompareLists(PyArray_DIMS(a), dims, ndim)) {
            Py_RETURN_NONE;
        }
        pointers[i] = PyArray_DATA(a);
    }
    double values[MOST] = {0};
    for (int k = 0; k < plan->params; ++k) {
        values[k] = PyFloat_AsDouble(args[plan->inputs + k]);
        if (values[k] == -1.0 && PyErr_Occurred()) return nullptr;
    }
    const long threads = PyLong_AsLong(args[plan->inputs + plan->params]);
    const long ftz = PyLong_AsLong(args[plan->inputs + plan->params + 1]);
    if ((threads == -1 || ftz == -1) && PyErr_Occurred()) return nullptr;
    PyObject* results[MOST];
    for (int k = 0; k < plan->outputs; ++k) {
        npy_intp bytes[1] = {nbytes};
        results[k] = (plan->mask_outputs >> k) & 1u ? PyArray_EMPTY(1, bytes, NPY_UINT8, 0)
                                                    : PyArray_EMPTY(ndim, dims, plan->typenum, 0);
        if (results[k] == nullptr) {
            for (int j = 0; j < k; ++j) Py_DECREF(results[j]);
            return nullptr;
        }
        pointers[plan->inputs + k] = PyArray_DATA(reinterpret_cast<PyArrayObject*>(results[k]));
    }
    if (n) {
        const Kernel kernel = plan->kernel;
        const long long size = plan->packs_mask ? nbytes : n;
        Py_BEGIN_ALLOW_THREADS
        kernel(pointers, values, size, n, int(threads), int(ftz));
        Py_END_ALLOW_THREADS
    }
    if (plan->outputs == 1) return results[0];
    PyObject* tuple = PyTuple_New(plan->outputs);
    if (tuple == nullptr) {
        for (int k = 0; k < plan->outputs; ++k) Py_DECREF(results[k]);
        return nullptr;
    }
    for (int k = 0; k < plan->outputs; ++k) PyTuple_SET_ITEM(tuple, k, results[k]);
    return tuple;
}

// rows(address, axis, inputs, outputs, params, threads, ftz): a `// rows:` kernel (softmax,
// log_softmax, glu; compiled.py: launch_rows) on every row along `axis`, writing into the
// outputs: True, or False where the arrays are not its case (every one a C-contiguous, aligned,
// native-order numpy.ndarray of one float dtype, one rank and one shape but along `axis`); then
// Python copies or says what is wrong. The kernel: void(void* const* arrays, const double*
// params, long long rows, const long long* lengths, long long inner, long long grain,
// int threads, int ftz).
typedef void (*RowsKernel)(void* const*, const double*, long long, const long long*, long long,
                           long long, int, int);

PyObject* rows(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyTuple_Check(args[2]) || !PyTuple_Check(args[3]) ||
        !PyTuple_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "rows(address, axis, inputs, outputs, params, "
                        "threads, ftz): the arrays and parameters as tuples");
        return nullptr;
    }
    const unsigned long long address = PyLong_AsUnsignedLongLong(args[0]);
    const long axis = PyLong_AsLong(args[1]);
    const long threads = PyLong_AsLong(args[5]), ftz = PyLong_AsLong(args[6]);
    if (PyErr_Occurred()) return nullptr;
    const Py_ssize_t inputs = PyTuple_GET_SIZE(args[2]), outputs = PyTuple_GET_SIZE(args[3]);
    const Py_ssize_t params = PyTuple_GET_SIZE(args[4]);
    if (address == 0 || inputs < 1 || inputs + outputs > MOST || params > MOST) {
        PyErr_SetString(PyExc_ValueError, "rows: a kernel's address, at least one input, at "
                        "most 16 arrays and 16 parameters");
        return nullptr;
    }
    PyArrayObject* first = reinterpret_cast<PyArrayObject*>(PyTuple_GET_ITEM(args[2], 0));
    if (!usable(reinterpret_cast<PyObject*>(first))) Py_RETURN_FALSE;
    const int typenum = PyArray_TYPE(first), ndim = PyArray_NDIM(first);
    if ((typenum != NPY_HALF && typenum != NPY_FLOAT && typenum != NPY_DOUBLE) || axis < 0 ||
        axis >= ndim)
        Py_RETURN_FALSE;
    const npy_intp* dims = PyArray_DIMS(first);
    void* pointers[MOST];
    long long lengths[MOST];
    for (Py_ssize_t k = 0; k < inputs + outputs; ++k) {
        PyObject* item = k < inputs ? PyTuple_GET_ITEM(args[2], k)
                                    : PyTuple_GET_ITEM(args[3], k - inputs);
        if (!usable(item)) Py_RETURN_FALSE;
        PyArrayObject* a = reinterpret_cast<PyArrayObject*>(item);
        if (PyArray_TYPE(a) != typenum || PyArray_NDIM(a) != ndim) Py_RETURN_FALSE;
        if (k >= inputs && !PyArray_ISWRITEABLE(a)) Py_RETURN_FALSE;
        for (int d = 0; d < ndim; ++d)
            if (d != axis && PyArray_DIMS(a)[d] != dims[d]) Py_RETURN_FALSE;
        pointers[k] = PyArray_DATA(a);
        lengths[k] = PyArray_DIMS(a)[axis];
    }
    double values[MOST] = {0};
    for (Py_ssize_t k = 0; k < params; ++k) {
        values[k] = PyFloat_AsDouble(PyTuple_GET_ITEM(args[4], k));
        if (values[k] == -1.0 && PyErr_Occurred()) return nullptr;
    }
    long long inner = 1, outer = 1;
    for (int d = axis + 1; d < ndim; ++d) inner *= dims[d];
    for (int d = 0; d < axis; ++d) outer *= dims[d];
    const long long count = outer * inner, length = dims[axis];
    if (count == 0 || length == 0) Py_RETURN_TRUE;
    const long long grain = std::max<long long>(1, (1 << 15) / std::max<long long>(1, length));
    const RowsKernel kernel = reinterpret_cast<RowsKernel>(static_cast<uintptr_t>(address));
    Py_BEGIN_ALLOW_THREADS
    kernel(pointers, values, count, lengths, inner, grain, int(threads), int(ftz));
    Py_END_ALLOW_THREADS
    Py_RETURN_TRUE;
}

PyTypeObject PlanType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* make_plan(PyObject*, PyObject* args) {
    unsigned long long address;
    int typenum, inputs, outputs, params, mask_input, packs_mask;
    unsigned mask_outputs;
    if (!PyArg_ParseTuple(args, "KiiiiiIp", &address, &typenum, &inputs, &outputs, &params,
                          &mask_input, &mask_outputs, &packs_mask))
        return nullptr;
    if (address == 0 || inputs < 1 || outputs < 1 || params < 0 || inputs + outputs > MOST ||
        params > MOST || mask_input >= inputs || (mask_input >= 0 && inputs < 2)) {
        PyErr_SetString(PyExc_ValueError, "plan: a kernel's address, then at least one input "
                        "and one output, at most 16 arrays and 16 parameters");
        return nullptr;
    }
    Plan* plan = PyObject_New(Plan, &PlanType);
    if (plan == nullptr) return nullptr;
    plan->vectorcall = call;
    plan->kernel = reinterpret_cast<Kernel>(static_cast<uintptr_t>(address));
    plan->typenum = typenum;
    plan->inputs = inputs;
    plan->outputs = outputs;
    plan->params = params;
    plan->mask_input = mask_input;
    plan->mask_outputs = mask_outputs;
    plan->packs_mask = packs_mask;
    return reinterpret_cast<PyObject*>(plan);
}

PyMethodDef methods[] = {
    {"plan", make_plan, METH_VARARGS, "plan(address, typenum, inputs, outputs, params, "
     "mask_input, mask_outputs, packs_mask): a callable kernel plan"},
    {"rows", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(rows)),
     METH_FASTCALL, "rows(address, axis, inputs, outputs, params, threads, ftz): a rows "
     "kernel on every row along axis; False where the arrays are not its case"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tinygrad_act_entry", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__tinygrad_act_entry() {
    import_array();
    PlanType.tp_name = "_tinygrad_act_entry.Plan";
    PlanType.tp_basicsize = sizeof(Plan);
    PlanType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
    PlanType.tp_vectorcall_offset = offsetof(Plan, vectorcall);
    PlanType.tp_call = PyVectorcall_Call;
    PlanType.tp_doc = "One kernel for one dtype: plan(*inputs, *params, threads, ftz)";
    if (PyType_Ready(&PlanType) < 0) return nullptr;
    return PyModule_Create(&module);
}
