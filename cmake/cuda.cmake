# cuda.cmake - the optional cuda backend (src/backend/cuda).
#
# IMGCLASS_CUDA=AUTO (default): built where nvcc (CMAKE_CUDA_COMPILER, PATH, or
# /usr/local/cuda/bin) and cuDNN (cudnn.h, libcudnn) are found; ON: required, configuring
# fails with what is missing; OFF: never. Architectures default to 90 (H100/H200);
# -DCMAKE_CUDA_ARCHITECTURES=... overrides. The CUDA runtime is linked statically and
# cuDNN and cuBLAS are opened when the backend starts (libcudnn.so.9, libcublas.so.13, plus
# the driver, found through the loader's usual paths), so nothing CUDA is needed to run a
# binary that does not use the GPU.
# Sets IC_HAVE_CUDA, adds the backend's sources to IC_SOURCES and its libraries to
# IC_CUDA_LINK_LIBS (and IC_PC_CUDA_LIBS, for the static link line of imgclass.pc).
set(IMGCLASS_CUDA AUTO CACHE STRING "Build the cuda backend: AUTO, ON or OFF")
set_property(CACHE IMGCLASS_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${IMGCLASS_CUDA}" IC_CUDA_MODE)
set(IC_HAVE_CUDA OFF)
set(IC_CUDA_LINK_LIBS "")
set(IC_PC_CUDA_LIBS "")

if(NOT IC_CUDA_MODE MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "IMGCLASS_CUDA must be AUTO, ON or OFF (got '${IMGCLASS_CUDA}')")
endif()

macro(ic_cuda_missing what)
  if(IC_CUDA_MODE STREQUAL "ON")
    message(FATAL_ERROR "IMGCLASS_CUDA=ON but ${what}")
  endif()
  message(STATUS "cuda backend: off (${what})")
endmacro()

# Sanitized and fuzzing builds pass -fsanitize to every compiler, which nvcc does not take;
# and nothing there could run on a GPU.
if(IC_CUDA_MODE STREQUAL "AUTO" AND (IMGCLASS_SANITIZE OR IMGCLASS_FUZZ))
  message(STATUS "cuda backend: off (sanitizer or fuzzing build)")
  set(IC_CUDA_MODE OFF)
endif()

if(NOT IC_CUDA_MODE STREQUAL "OFF")
  # nvcc is usually not on PATH (/usr/local/cuda/bin); look there before check_language.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(IC_NVCC nvcc HINTS /usr/local/cuda/bin)
    if(IC_NVCC)
      set(CMAKE_CUDA_COMPILER ${IC_NVCC} CACHE FILEPATH "CUDA compiler")
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    ic_cuda_missing("no CUDA compiler (nvcc) found: set CMAKE_CUDA_COMPILER")
  else()
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures (90: H100/H200)")
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    get_filename_component(IC_CUDA_ROOT "${CMAKE_CUDA_COMPILER}" DIRECTORY)
    get_filename_component(IC_CUDA_ROOT "${IC_CUDA_ROOT}" DIRECTORY)
    find_path(CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${IC_CUDA_ROOT}/include)
    find_library(CUDNN_LIB cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${IC_CUDA_ROOT}/lib64
                 ${IC_CUDA_ROOT}/lib)
    if(NOT CUDAToolkit_FOUND)
      ic_cuda_missing("the CUDA toolkit (cudart, cuBLAS) was not found")
    elseif(NOT TARGET CUDA::cublas OR NOT TARGET CUDA::cudart_static)
      ic_cuda_missing("cuBLAS or the static CUDA runtime was not found")
    elseif(NOT CUDNN_INCLUDE OR NOT CUDNN_LIB)
      ic_cuda_missing("cuDNN (cudnn.h, libcudnn) was not found: set CUDNN_INCLUDE and CUDNN_LIB")
    else()
      set(IC_HAVE_CUDA ON)
      set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
      set(CMAKE_CUDA_FLAGS_RELEASE "-O3 -DNDEBUG")
      file(GLOB IC_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/backend/cuda/*.c
           ${CMAKE_SOURCE_DIR}/src/backend/cuda/*.cu)
      list(APPEND IC_SOURCES ${IC_CUDA_SOURCES})
      # cuDNN and cuBLAS are not linked: the backend opens them when it starts
      # (src/backend/cuda/cuda_dl.h), so processes that never use the GPU do not load them.
      set(IC_CUDA_LINK_LIBS CUDA::cudart_static ${CMAKE_DL_LIBS})
      set(IC_PC_CUDA_LIBS
          "-L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt -lstdc++")
      message(STATUS "cuda backend: on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                     "architectures ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIB})")
    endif()
  endif()
endif()
