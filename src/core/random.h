#pragma once
// Deterministic seeding: every random draw derives from (run seed, purpose, epoch, item), so
// results do not depend on thread count or scheduling.
#include <cstdint>
#include <initializer_list>
#include <random>

namespace imagefit {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x243F6A8885A308D3ull;
  for (uint64_t p : parts) h = splitmix64(h ^ p);
  return h;
}

using Rng = std::mt19937_64;

}  // namespace imagefit
