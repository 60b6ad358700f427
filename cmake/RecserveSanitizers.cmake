# Sanitizer builds. One sanitizer family per build directory (ASan and TSan cannot share a
# process):
#   RECSERVE_SANITIZER=address  AddressSanitizer + UndefinedBehaviorSanitizer (make build-asan).
#                               RECSERVE_SANITIZE=ON is the older spelling of the same build.
#   RECSERVE_SANITIZER=thread   ThreadSanitizer (make build-tsan): data races and lock-order
#                               inversions between our threads. Libraries built without TSan
#                               (libstdc++.so, XGBoost, hiredis, gtest) are not instrumented: their
#                               own memory accesses are invisible, their pthread calls are not.
# Every report is fatal (-fno-sanitize-recover for UBSan; ASan and TSan abort or exit non-zero via
# the *_OPTIONS set in scripts/run-tests.sh), so a finding fails the test that caused it.
set(RECSERVE_SANITIZER "" CACHE STRING "Sanitizer build: address (ASan + UBSan), thread (TSan), or empty")
set_property(CACHE RECSERVE_SANITIZER PROPERTY STRINGS "" address thread)
option(RECSERVE_SANITIZE "Same as RECSERVE_SANITIZER=address (ASan + UBSan)" OFF)

if(RECSERVE_SANITIZE)
  if(RECSERVE_SANITIZER STREQUAL "")
    set(RECSERVE_SANITIZER address)  # a normal variable: the cache keeps what the user set
  elseif(NOT RECSERVE_SANITIZER STREQUAL "address")
    message(FATAL_ERROR "RECSERVE_SANITIZE=ON means ASan + UBSan; it cannot be combined with "
      "RECSERVE_SANITIZER=${RECSERVE_SANITIZER}")
  endif()
endif()

if(RECSERVE_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  # hnswlib 0.6.2 (bookworm's libhnswlib-dev, header-only) reads one neighbour id past the end of
  # a full link list to compute a prefetch address (hnswalg.h:214, searchBaseLayer during
  # addPoint; upstream nmslib/hnswlib#107 and #578, unfixed): ASan aborts every
  # `recserve pipeline` on ML-100K there. The 4-byte read overruns the block by up to 3 bytes
  # and its value only feeds _mm_prefetch; a system header cannot be patched here, so the one
  # file that instantiates hnswlib is compiled without ASan (UBSan stays on), every other file
  # is checked. The Release binary does the same read.
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/models/ann_index.cpp PROPERTIES
    COMPILE_OPTIONS -fno-sanitize=address)
elseif(RECSERVE_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  # GCC warns (-Wtsan, an error under -Werror) at every std::atomic_thread_fence because TSan
  # does not model fences; Boost.Asio's handler invocation has one (std_fenced_block). Ignoring a
  # fence can only add reports (an ordering it would provide goes unseen), never hide a race.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
elseif(NOT RECSERVE_SANITIZER STREQUAL "")
  message(FATAL_ERROR "RECSERVE_SANITIZER must be address, thread or empty, not '${RECSERVE_SANITIZER}'")
endif()
