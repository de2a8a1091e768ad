# The CUDA emulation's own tests: its execution model (src/emu_launch.cc) on kernels of its own
# (cuda_emu/test_emu_kernels.cc: indices, barriers, shuffles, shared memory and its NaN poison, atomics, the
# launch limits, and the faults it must report: deadlock, race under two thread orders, host pointer,
# out-of-bounds writes, bad shuffle mask, too much static shared memory), its runtime, cuBLAS, cuBLASLt and cub
# (test_emu_runtime.cc) and its NCCL, devices and digest (test_emu_nccl.cc, 1-3 ranks). Labels "unit" (so ASan
# runs them too) and "cuda-emu"; built in every build. The emulation library is test infrastructure: it lives
# here, with the tests; only the -DSHEAR_CUDA_EMU=ON test build's shear links it, never a release one.
enable_language(CXX ASM)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(OpenMP REQUIRED COMPONENTS CXX)
set(EMU_ROOT ${CMAKE_SOURCE_DIR}/tests/cuda_emu)
# execution model (emu_launch.cc, emu_switch_x86_64.S), runtime (emu_runtime.cc), cuBLAS on OpenBLAS
# (emu_blas.cc) and cuBLASLt on its product (emu_blaslt.cc), cub (emu_cub.cc), NCCL on MPI (emu_nccl.cc)
file(GLOB EMU_LIB_SRC CONFIGURE_DEPENDS ${EMU_ROOT}/src/*.cc ${EMU_ROOT}/src/*.S)
add_library(shear_cuda_emu STATIC ${EMU_LIB_SRC})
target_include_directories(shear_cuda_emu PUBLIC ${EMU_ROOT}/include PRIVATE ${EMU_ROOT}/src)
target_compile_options(shear_cuda_emu PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall> $<$<COMPILE_LANGUAGE:CXX>:-Wextra>)
target_compile_definitions(shear_cuda_emu PRIVATE OMPI_SKIP_MPICXX=1)
target_link_libraries(shear_cuda_emu PUBLIC OpenMP::OpenMP_CXX MPI::MPI_C shear_blas)
add_executable(test_emu_kernels cuda_emu/test_emu_kernels.cc)
target_link_libraries(test_emu_kernels PRIVATE shear_cuda_emu)
target_include_directories(test_emu_kernels PRIVATE ${CMAKE_SOURCE_DIR}/kernels/cuda)
target_compile_options(test_emu_kernels PRIVATE -Wall -Wno-unknown-pragmas -ffp-contract=off)
add_test(NAME emu_kernels COMMAND test_emu_kernels)
set_tests_properties(emu_kernels PROPERTIES LABELS "unit;cuda-emu" ENVIRONMENT "OMP_NUM_THREADS=2" TIMEOUT 300)

# The emulated NCCL on MPI, devices and the digest (cuda_emu/test_emu_nccl.cc) on 1, 2 and 3 ranks
add_executable(test_emu_nccl cuda_emu/test_emu_nccl.cc)
target_link_libraries(test_emu_nccl PRIVATE shear_cuda_emu)
target_include_directories(test_emu_nccl PRIVATE ${EMU_ROOT}/src)
target_compile_definitions(test_emu_nccl PRIVATE OMPI_SKIP_MPICXX=1)
foreach(np 1 2 3)
  add_test(NAME emu_nccl_np${np} COMMAND ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:test_emu_nccl>)
  set_tests_properties(emu_nccl_np${np} PROPERTIES LABELS "unit;mpi;cuda-emu" ENVIRONMENT "OMP_NUM_THREADS=1"
                       TIMEOUT 300)
endforeach()

# The emulated runtime, cuBLAS, cuBLASLt and cub against what the real ones do (cuda_emu/test_emu_runtime.cc)
add_executable(test_emu_runtime cuda_emu/test_emu_runtime.cc)
target_link_libraries(test_emu_runtime PRIVATE shear_cuda_emu)
target_include_directories(test_emu_runtime PRIVATE ${EMU_ROOT}/src)
add_test(NAME emu_runtime COMMAND test_emu_runtime)
set_tests_properties(emu_runtime PROPERTIES LABELS "unit;cuda-emu" ENVIRONMENT "OMP_NUM_THREADS=2" TIMEOUT 120)
