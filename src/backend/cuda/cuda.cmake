# The CUDA kernels, their tests, mmfree_cuda_bench and mmfree_chain_floor; included only with -DMMFREE_CUDA=ON.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  # "90": sm_90 machine code (H100, H200) plus compute_90 PTX that newer GPUs compile at load.
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# CMake 3.25 does not know nvcc's C++20 flag (CUDA_STANDARD 20, which it would derive from
# CXX_STANDARD, fails to configure): no CUDA standard for CMake, the flag passed directly.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED OFF)
add_compile_options($<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)

file(GLOB MMFREE_CUDA_SOURCES CONFIGURE_DEPENDS src/backend/cuda/*.cu src/backend/cuda/*.cpp)
add_library(mmfree_cuda STATIC ${MMFREE_CUDA_SOURCES})
# Kernels on Hopper's arch-specific instructions (wgmma): machine code for sm_90a alone, no PTX;
# on any other GPU tiled_product_available() says no and another kernel runs.
file(GLOB MMFREE_CUDA_SM90A_SOURCES CONFIGURE_DEPENDS src/backend/cuda/sm90a/*.cu)
add_library(mmfree_cuda_sm90a STATIC ${MMFREE_CUDA_SM90A_SOURCES})
set_target_properties(mmfree_cuda_sm90a PROPERTIES CUDA_ARCHITECTURES OFF)
target_compile_options(mmfree_cuda_sm90a PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-gencode=arch=compute_90a,code=sm_90a -Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>)
target_link_libraries(mmfree_cuda_sm90a PUBLIC mmfree_lib CUDA::cudart_static)
target_link_libraries(mmfree_cuda PUBLIC mmfree_cuda_sm90a)
# cuBLAS (the GPU machines' toolkit has it) for the training GEMMs: its headers (in the toolkit's
# include folder) only; the library is opened at first use (cublas_library.h says why).
target_link_libraries(mmfree_cuda PUBLIC mmfree_lib CUDA::cudart_static ${CMAKE_DL_LIBS})
# The training kernels repeat the host's float operations one by one: no FMA contraction.
set_source_files_properties(src/backend/cuda/train_kernels.cu PROPERTIES COMPILE_OPTIONS "-fmad=false")
# make_backend (src/backend/backend.cpp) offers the CUDA backend: the two static libraries need each
# other, which CMake links by repeating them.
target_compile_definitions(mmfree_lib PUBLIC MMFREE_CUDA)
target_link_libraries(mmfree_lib PUBLIC mmfree_cuda)
# IEEE division and square root, no fast math: the kernels repeat the CPU's float operations.
target_compile_options(mmfree_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr --extended-lambda>)

# These binaries also run on GPU machines whose system libraries differ from the build machine's:
# the C++ runtime linked in, and no shared library the code does not use.
set(MMFREE_CUDA_PORTABLE_LINK -static-libstdc++ -static-libgcc -Wl,--as-needed)

# The binaries also run on GPU machines whose system libraries differ from this one's.
target_link_options(mmfree PRIVATE ${MMFREE_CUDA_PORTABLE_LINK})
if(MMFREE_BUILD_TESTS)
  target_link_options(mmfree_tests PRIVATE ${MMFREE_CUDA_PORTABLE_LINK})
endif()

add_executable(mmfree_cuda_bench src/backend/cuda/tools/cuda_bench.cpp)
target_link_libraries(mmfree_cuda_bench PRIVATE mmfree_cuda)
target_link_options(mmfree_cuda_bench PRIVATE ${MMFREE_CUDA_PORTABLE_LINK})
# The floor of batch-1 decode's kernel chain (docs/BENCHMARKS.md).
add_executable(mmfree_chain_floor src/backend/cuda/tools/chain_floor.cu)
target_link_libraries(mmfree_chain_floor PRIVATE mmfree_cuda)
target_compile_options(mmfree_chain_floor PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
target_link_options(mmfree_chain_floor PRIVATE ${MMFREE_CUDA_PORTABLE_LINK})

if(MMFREE_BUILD_TESTS)
  file(GLOB MMFREE_CUDA_TEST_SOURCES CONFIGURE_DEPENDS tests/cuda/*.cpp)
  add_executable(mmfree_cuda_tests ${MMFREE_CUDA_TEST_SOURCES})
  target_link_libraries(mmfree_cuda_tests PRIVATE mmfree_cuda GTest::gtest_main)
  target_link_options(mmfree_cuda_tests PRIVATE ${MMFREE_CUDA_PORTABLE_LINK})
  gtest_discover_tests(mmfree_cuda_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endif()
