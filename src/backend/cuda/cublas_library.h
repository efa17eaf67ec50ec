#pragma once
// cuBLAS, opened at its first use (dlopen) rather than linked: loading libcublas and libcublasLt
// runs their static initialisers, which cost about 0.6 s of every process start on the development
// VM (`mmfree --help` 0.59 s linked, 0.02 s without), whether or not the command trains on a GPU.
// Only training's backward GEMMs use cuBLAS (cuda_train.cpp).
#include <cublas_v2.h>

namespace mmfree::cuda {

// The cuBLAS functions mmfree calls, as the library defines them (cublas_v2.h's names map to the
// _v2 symbols).
struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  decltype(&cublasSetStream_v2) set_stream;
  // The library's cublasGemmEx (the header adds an inline overload taking a cudaDataType compute type).
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n, int k, const void* alpha,
                            const void* a, cudaDataType a_type, int lda, const void* b, cudaDataType b_type, int ldb,
                            const void* beta, void* c, cudaDataType c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo);
};

// Opens libcublas.so.<major of the headers> once (the loader's search path, then the toolkit's
// usual folders) and returns its functions; throws Error saying what is missing.
const CublasLibrary& cublas_library();

}  // namespace mmfree::cuda
