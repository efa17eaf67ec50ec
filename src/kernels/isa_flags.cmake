# Included by the top CMakeLists.txt. The kernels for each instruction set live in their own files,
# compiled with that set's flags; everything else stays generic x86-64, and cpu_isa.cpp picks the
# kernels at run time, so one binary runs on any x86-64 CPU.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_mmfree_kernels ${CMAKE_CURRENT_SOURCE_DIR}/src/kernels)
  # -ffp-contract=off: no silent FMA contraction, so float code here rounds as the generic code does.
  set(_mmfree_avx2 -mavx2 -mfma -mf16c -ffp-contract=off)
  set(_mmfree_avx512 ${_mmfree_avx2} -mavx512f -mavx512bw -mavx512vl -mavx512dq)
  set_source_files_properties(${_mmfree_kernels}/ternary_avx2.cpp PROPERTIES COMPILE_OPTIONS "${_mmfree_avx2}")
  set_source_files_properties(${_mmfree_kernels}/ternary_avx512.cpp ${_mmfree_kernels}/elementwise_avx512.cpp
                              PROPERTIES COMPILE_OPTIONS "${_mmfree_avx512}")
  set_source_files_properties(${_mmfree_kernels}/ternary_avx512vnni.cpp PROPERTIES COMPILE_OPTIONS
                              "${_mmfree_avx512};-mavx512vnni")
  target_compile_definitions(mmfree_lib PUBLIC MMFREE_X86_KERNELS)
endif()
