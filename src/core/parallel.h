#pragma once
// Threads: the default worker count and a parallel loop over indices.
#include <cstddef>
#include <functional>

namespace imagefit {

// Number of hardware threads (at least 1).
int hardware_threads();

// Runs body(i) for i in [0, n) on up to `threads` threads. Exceptions from body are rethrown
// (the first one) after all threads stopped. Which thread runs which index is not fixed, so
// body must not depend on it: derive any randomness from i (see core/random.h).
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& body);

}  // namespace imagefit
