// `import torchlab._C` loads this shared library, and with it every operator registration.
// The module itself defines nothing: the operators are reached through torch.ops.torchlab.
// The CMake build leaves this file out, so its library needs no Python.
#include <Python.h>

extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
