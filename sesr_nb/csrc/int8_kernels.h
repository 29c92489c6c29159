// The inner products of the int8 convolutions, one struct per instruction set, all on the same data layout:
// a lane (32 bits) of an input vector holds four uint8 codes, a weight word four int8 codes, and
// dot(acc, x, w) adds the four products to each int32 lane (exact: |sum| < 2^31 is checked in Python).
//   Vnni   : 16 pixels per vector, vpdpbusd (AVX-512 VNNI)
//   Avx2   :  8 pixels per vector, the even and odd bytes widened to int16 and vpmaddwd (no int16 saturation)
//   Scalar : 16 pixels per "vector", plain C++
// requant() writes the 8-bit codes clip(round_half_even(double(acc) * double(mult)) + zp, 0, 255) of one vector.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sesr {
namespace int8 {

// |acc * mult| beyond this is clipped to 0 or 255 anyway; clamping first keeps the conversion to int32 exact.
constexpr double REQUANT_LIMIT = 1e6;

// round half to even of a double, independent of the FPU rounding mode (|p| <= REQUANT_LIMIT, so p - floor(p) is exact).
static inline double round_half_even(double p) {
  double r = std::floor(p);
  const double d = p - r;
  if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  return r;
}

static inline uint8_t requant_one(int32_t acc, double mult, int zp) {
  double p = static_cast<double>(acc) * mult;
  p = std::min(std::max(p, -REQUANT_LIMIT), REQUANT_LIMIT);
  const int code = static_cast<int>(round_half_even(p)) + zp;
  return static_cast<uint8_t>(code < 0 ? 0 : code > 255 ? 255 : code);
}

struct Scalar {
  static constexpr int PX = 16, MAX_OC = 16;
  static constexpr int nb(int) { return 1; }
  struct Acc { int32_t v[PX]; };
  struct In { uint8_t b[4 * PX]; };
  struct Wt { int32_t w[4]; };
  static Acc init(int32_t b) { Acc a; for (int i = 0; i < PX; ++i) a.v[i] = b; return a; }
  static In load(const uint8_t* p) { In x; std::memcpy(x.b, p, sizeof(x.b)); return x; }
  static Wt weight(const int8_t* p) { return Wt{{p[0], p[1], p[2], p[3]}}; }
  static Acc dot(Acc a, const In& x, const Wt& w) {
    for (int i = 0; i < PX; ++i)
      a.v[i] += x.b[4 * i] * w.w[0] + x.b[4 * i + 1] * w.w[1] + x.b[4 * i + 2] * w.w[2] + x.b[4 * i + 3] * w.w[3];
    return a;
  }
  static void requant(const Acc& a, float mult, int zp, uint8_t* dst) {
    for (int i = 0; i < PX; ++i) dst[i] = requant_one(a.v[i], static_cast<double>(mult), zp);
  }
};

#if defined(__AVX2__)
struct Avx2 {
  static constexpr int PX = 8, MAX_OC = 8;
  // 16 ymm registers: OCB x NB accumulators, 2 x NB widened inputs and the two weight vectors.
  static constexpr int nb(int ocb) { return ocb <= 4 ? 2 : 1; }
  using Acc = __m256i;
  struct In { __m256i even, odd; };   // bytes 0, 2 and bytes 1, 3 of every lane, as int16
  struct Wt { __m256i even, odd; };   // weights 0, 2 and 1, 3 of the word, sign-extended to int16
  static Acc init(int32_t b) { return _mm256_set1_epi32(b); }
  static In load(const uint8_t* p) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), low = _mm256_set1_epi32(0x00FF00FF);
    return In{_mm256_and_si256(v, low), _mm256_srli_epi16(v, 8)};
  }
  static Wt weight(const int8_t* p) {
    int32_t word;
    std::memcpy(&word, p, 4);
    const __m256i w = _mm256_set1_epi32(word);
    return Wt{_mm256_srai_epi16(_mm256_slli_epi16(w, 8), 8), _mm256_srai_epi16(w, 8)};
  }
  static Acc dot(Acc a, const In& x, const Wt& w) {
    return _mm256_add_epi32(a, _mm256_add_epi32(_mm256_madd_epi16(x.even, w.even), _mm256_madd_epi16(x.odd, w.odd)));
  }
  static void requant(Acc a, float mult, int zp, uint8_t* dst) {
    const __m256d m = _mm256_set1_pd(static_cast<double>(mult)), lim = _mm256_set1_pd(REQUANT_LIMIT);
    const __m256d nlim = _mm256_set1_pd(-REQUANT_LIMIT);
    __m256d lo = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(a)), m);
    __m256d hi = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(a, 1)), m);
    lo = _mm256_round_pd(_mm256_min_pd(_mm256_max_pd(lo, nlim), lim), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    hi = _mm256_round_pd(_mm256_min_pd(_mm256_max_pd(hi, nlim), lim), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m128i z = _mm_set1_epi32(zp);
    const __m128i l = _mm_add_epi32(_mm256_cvtpd_epi32(lo), z), h = _mm_add_epi32(_mm256_cvtpd_epi32(hi), z);
    const __m128i codes = _mm_packus_epi16(_mm_packus_epi32(l, h), _mm_setzero_si128());   // saturate to 0..255
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), codes);
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
struct Vnni {
  static constexpr int PX = 16, MAX_OC = 16;
  // 32 zmm registers: up to 16 accumulators, NB inputs, one broadcast weight.
  static constexpr int nb(int ocb) { return ocb <= 4 ? 4 : ocb <= 8 ? 2 : 1; }
  using Acc = __m512i;
  using In = __m512i;
  using Wt = const int8_t*;   // the weight word stays in memory: vpdpbusd broadcasts it ({1to16})
  static Acc init(int32_t b) { return _mm512_set1_epi32(b); }
  static In load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static Wt weight(const int8_t* p) { return p; }
  // Inline assembly: with the intrinsic, GCC 12 keeps a second copy of every accumulator (vpdpbusd overwrites its
  // first operand) and spills 16 of them to the stack in every tap; "+v" makes it update the accumulator in place.
  static Acc dot(Acc a, In x, Wt w) {
    asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(a) : "v"(x), "m"(*reinterpret_cast<const int32_t*>(w)));
    return a;
  }
  // Only the upper clamp: a product below -2^31 converts to INT_MIN (0x80000000), which the zero point and the
  // clip at 0 still map to code 0, as the reference's clip does.
  static void requant(Acc a, float mult, int zp, uint8_t* dst) {
    const __m512d m = _mm512_set1_pd(static_cast<double>(mult)), lim = _mm512_set1_pd(REQUANT_LIMIT);
    __m512d lo = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(a)), m);
    __m512d hi = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1)), m);
    lo = _mm512_min_pd(lo, lim);
    hi = _mm512_min_pd(hi, lim);
    const __m256i l = _mm512_cvt_roundpd_epi32(lo, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i h = _mm512_cvt_roundpd_epi32(hi, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(l), h, 1);
    r = _mm512_max_epi32(_mm512_add_epi32(r, _mm512_set1_epi32(zp)), _mm512_setzero_si512());
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtusepi32_epi8(r));
  }
};
#endif

}  // namespace int8
}  // namespace sesr
