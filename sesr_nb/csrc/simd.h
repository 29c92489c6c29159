// SIMD helpers: a float vector of the widest width the compiling CPU has (GCC/Clang vector extensions, so the
// compiler emits AVX-512, AVX2, SSE or NEON instructions for -march=native), loads, stores and a block transpose.
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace sesr {

#if defined(__AVX512F__)
constexpr int VW = 16;
#elif defined(__AVX__)
constexpr int VW = 8;
#else
constexpr int VW = 4;
#endif
typedef float vf __attribute__((vector_size(VW * 4)));
static inline vf vload(const float* p) { vf v; std::memcpy(&v, p, sizeof(vf)); return v; }
static inline void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof(vf)); }
static inline float hsum(vf v) { float s = 0.f; for (int i = 0; i < VW; ++i) s += v[i]; return s; }
static inline vf vsplat(float s) { return vf{} + s; }
// A streaming store of a full vector to a VW*4-byte aligned address (a plain store where there is none).
static inline void vstream(float* p, vf v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, (__m512)v);
#elif defined(__AVX__)
  _mm256_stream_ps(p, (__m256)v);
#elif defined(__SSE__)
  _mm_stream_ps(p, (__m128)v);
#else
  vstore(p, v);
#endif
}
// Streaming stores are weakly ordered: each tile fences its own before the loop reports the tile done.
static inline void stream_fence() {
#if defined(__SSE__)
  _mm_sfence();
#endif
}

// Transpose of a VW x VW block: rows[i][j] -> rows[j][i] (log2(VW) stages of two-vector shuffles; scalar fallback).
static inline void transpose_block(vf* r) {
#if defined(__AVX512F__) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
  for (int i = 0; i < 16; ++i) if (!(i & 8)) {
    vf a = r[i], b = r[i + 8];
    r[i] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    r[i + 8] = __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  }
  for (int i = 0; i < 16; ++i) if (!(i & 4)) {
    vf a = r[i], b = r[i + 4];
    r[i] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    r[i + 4] = __builtin_shufflevector(a, b, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
  }
  for (int i = 0; i < 16; ++i) if (!(i & 2)) {
    vf a = r[i], b = r[i + 2];
    r[i] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
    r[i + 2] = __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
  }
  for (int i = 0; i < 16; ++i) if (!(i & 1)) {
    vf a = r[i], b = r[i + 1];
    r[i] = __builtin_shufflevector(a, b, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    r[i + 1] = __builtin_shufflevector(a, b, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
  }
  return;
#endif
#endif
  float t[VW][VW];
  for (int i = 0; i < VW; ++i) vstore(t[i], r[i]);
  for (int i = 0; i < VW; ++i) for (int j = 0; j < VW; ++j) r[i][j] = t[j][i];
}

}  // namespace sesr
