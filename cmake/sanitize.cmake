# Sanitizer and fuzzing builds (docs/RELIABILITY.md). Both are separate build trees:
#   cmake -S . -B build-asan -DIMAGEFIT_SANITIZE=ON            (g++ or clang)
#   cmake -S . -B build-asan -DIMAGEFIT_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
# IMAGEFIT_FUZZ implies IMAGEFIT_SANITIZE and adds the libFuzzer targets of fuzz/.
#
# Only a subset is built and tested under the sanitizers (IMAGEFIT_SANITIZE_TEST_AREAS): the
# libraries below the loaders (core, data, models, weights) and http, and the test programs of data/,
# weights/ and http/, which cover the model-file, .h5 and .pth/pickle loaders, image decoding, split,
# check and the server's connection handling. The imagefit binary is not built there (it would
# instrument the whole project: CI's time), so tests that run it skip. LibTorch, OpenCV, HDF5,
# libzip and cpp-httplib are not instrumented: ASan still checks every access our code makes,
# including into their buffers.
if(IMAGEFIT_FUZZ)
  set(IMAGEFIT_SANITIZE ON)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "IMAGEFIT_FUZZ needs clang (libFuzzer): add -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
endif()

if(IMAGEFIT_SANITIZE)
  set(IMAGEFIT_SANITIZE_TEST_AREAS data weights http)
  # -O1: ASan's recommendation (usable speed, accurate stacks); frame pointers for its fast unwinder.
  # Recover off: any UBSan finding fails the test instead of scrolling by.
  set(flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1 -g)
  if(IMAGEFIT_FUZZ)
    # Coverage for libFuzzer in every instrumented library; the fuzz targets link libFuzzer itself.
    list(APPEND flags -fsanitize=fuzzer-no-link)
  endif()
  add_compile_options(${flags})
  add_link_options(-fsanitize=address,undefined)
  # Release's -O3 -DNDEBUG would override -O1: keep NDEBUG (as the shipped binary) and the -O1 above.
  set(CMAKE_CXX_FLAGS_RELEASE "-DNDEBUG")
  set(CMAKE_C_FLAGS_RELEASE "-DNDEBUG")
endif()
