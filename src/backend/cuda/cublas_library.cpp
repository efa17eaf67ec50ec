#include "backend/cuda/cublas_library.h"

#include <dlfcn.h>

#include <string>

#include "util/error.h"

namespace mmfree::cuda {
namespace {

#define MMFREE_STR2(x) #x
#define MMFREE_STR(x) MMFREE_STR2(x)
constexpr const char* kSoname = "libcublas.so." MMFREE_STR(CUBLAS_VER_MAJOR);

void* open_library() {
  const std::string name = kSoname;
  for (const std::string& path : {name, "/usr/local/cuda/lib64/" + name, "/usr/local/cuda/lib/" + name})
    if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;  // kept open for the process
  const char* why = dlerror();
  throw Error(std::string("cuda: training needs cuBLAS, and ") + kSoname + " could not be opened (" +
              (why ? why : "not found") + "); install the CUDA toolkit's cuBLAS or add its folder to LD_LIBRARY_PATH");
}

template <class F>
void bind(void* h, const char* symbol, F& f) {
  f = reinterpret_cast<F>(dlsym(h, symbol));
  if (!f) throw Error(std::string("cuda: ") + kSoname + " has no " + symbol);
}

CublasLibrary load() {
  void* h = open_library();
  CublasLibrary l{};
  bind(h, "cublasCreate_v2", l.create);
  bind(h, "cublasDestroy_v2", l.destroy);
  bind(h, "cublasSetMathMode", l.set_math_mode);
  bind(h, "cublasSetWorkspace_v2", l.set_workspace);
  bind(h, "cublasSetStream_v2", l.set_stream);
  bind(h, "cublasGemmEx", l.gemm_ex);
  return l;
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary l = load();
  return l;
}

}  // namespace mmfree::cuda
