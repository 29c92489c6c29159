// sesr_nb native CPU convolutions, called from JAX through the XLA FFI.
// Layout NCHW, float32, stride 1, SAME zero padding, odd square kernels (HWIO weights).
// Every convolution can read its input through a PReLU and a residual add, y = conv(prelu(x, a) + skip, w) + b,
// so SESR's activations and long residual never need a pass of their own:
//   sesr_conv_fwd    : y = conv(act(x), w) + b
//   sesr_conv_dinput : r = conv(g, flipped w); dx = r * prelu'(x); da = sum r * x * [x < 0]; dskip = r
//   sesr_conv_wgrad  : dw = sum_pixels act(x)_shifted * g, db = sum_pixels g
// The weight gradient vectorises over output channels when there are 16k of them (a transposed, pixel-major copy
// of the gradient tile times broadcast inputs), over input channels when there are few outputs (SESR's last layer),
// and over pixels otherwise.
// Work is split into tiles (image, row band, column band); each tile copies its zero-padded (and activated) input
// window into a small per-thread buffer, so every inner loop reads unit-stride memory. Reductions over tiles are
// added in a fixed order, so results do not depend on the number or timing of threads.
//
// The forward 3x3 convolutions with 8 or more input and output channels (SESR's 16->16 layers) use Winograd's
// F(4x4, 3x3) instead of the direct sum: a quarter of the multiplies.
// Files: simd.h (vector type and helpers), parallel.h (loop on XLA's thread pool), tiles.h (tiles and their input
// windows), conv_fwd.* (forward and input gradient), conv_winograd.* (the Winograd 3x3 forward), conv_wgrad.*
// (weight gradient), ffi.cc (this file: the XLA FFI handlers). They are compiled together into one shared library
// by sesr_nb.conv.build_native_library.
#include <cstdint>
#include <string>

#include "conv_fwd.h"
#include "conv_wgrad.h"
#include "xla/ffi/api/ffi.h"

namespace sesr {
namespace {

using Buf = ffi::Buffer<ffi::F32>;        // any rank: optional operands are passed as empty arrays
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error run_fwd(ffi::ThreadPool& pool, const Buf& x, const InputAct& act, const Buf& w, const float* b,
                   float* y, const GradAct& ga, float* dslope, const char* who) {
  const auto xd = x.dimensions(), wd = w.dimensions();
  if (xd.size() != 4 || wd.size() != 4) return ffi::Error::InvalidArgument(std::string(who) + ": expected 4-D input and kernel");
  const int64_t N = xd[0], Cin = xd[1], H = xd[2], W = xd[3], K = wd[0], Cout = wd[3];
  if (wd[1] != K || wd[2] != Cin || K % 2 == 0)
    return ffi::Error::InvalidArgument(std::string(who) + ": kernel must be (k, k, Cin, Cout) with odd k");
  const bool ok = conv_fwd_dispatch(K, pool, x.typed_data(), act, w.typed_data(), b, y, N, Cin, Cout, H, W, ga, dslope);
  if (!ok) return ffi::Error::InvalidArgument(std::string(who) + ": kernel size must be 1, 3, 5 or 7");
  return ffi::Error::Success();
}

const float* optional(const Buf& b) { return b.element_count() ? b.typed_data() : nullptr; }

// y = conv(prelu(x, slope) + skip, w) + b; slope (Cin,) and skip (like x) may be empty.
ffi::Error ConvFwd(ffi::ThreadPool pool, Buf x, Buf slope, Buf skip, Buf w, Buf b, Out y) {
  const auto wd = w.dimensions();
  if (wd.size() != 4 || static_cast<int64_t>(b.element_count()) != wd.back())
    return ffi::Error::InvalidArgument("sesr_conv_fwd: expected a 4-D kernel and a bias of shape (Cout,)");
  return run_fwd(pool, x, InputAct{optional(slope), optional(skip)}, w, b.typed_data(), y->typed_data(), GradAct{},
                 nullptr, "sesr_conv_fwd");
}

// Input gradient of conv(prelu(z, slope) + skip, w): r = conv(g, w_flipped); dz = r * prelu'(z); dslope = sum r*z*[z<0];
// dskip = r. With an empty slope, dz = r and dslope/dskip are empty.
ffi::Error ConvDinput(ffi::ThreadPool pool, Buf g, Buf w_flipped, Buf z, Buf slope, Out dz, Out dskip, Out dslope) {
  GradAct ga;
  if (slope.element_count()) {
    ga.z = z.typed_data();
    ga.slope = slope.typed_data();
    ga.draw = dskip->element_count() ? dskip->typed_data() : nullptr;
  }
  return run_fwd(pool, g, InputAct{}, w_flipped, nullptr, dz->typed_data(), ga,
                 slope.element_count() ? dslope->typed_data() : nullptr, "sesr_conv_dinput");
}

// dw, db of conv(prelu(x, slope) + skip, w) + b for the output cotangent g.
ffi::Error ConvWgrad(ffi::ThreadPool pool, Buf x, Buf slope, Buf skip, Buf gy, Out dw, Out db) {
  const auto xd = x.dimensions(), gd = gy.dimensions(), wd = dw->dimensions();
  if (xd.size() != 4 || gd.size() != 4 || wd.size() != 4)
    return ffi::Error::InvalidArgument("sesr_conv_wgrad: expected 4-D input, cotangent and kernel");
  const int64_t N = xd[0], Cin = xd[1], H = xd[2], W = xd[3], Cout = gd[1], K = wd[0];
  const bool ok = conv_wgrad_dispatch(K, pool, x.typed_data(), InputAct{optional(slope), optional(skip)},
                                      gy.typed_data(), dw->typed_data(), db->typed_data(), N, Cin, Cout, H, W);
  if (!ok) return ffi::Error::InvalidArgument("sesr_conv_wgrad: kernel size must be 1, 3, 5 or 7");
  return ffi::Error::Success();
}

// The number of threads of the pool the kernels run on (a diagnostic: results must not depend on it).
ffi::Error PoolThreads(ffi::ThreadPool pool, ffi::ResultBuffer<ffi::S32> n) {
  *n->typed_data() = static_cast<int32_t>(pool.num_threads());
  return ffi::Error::Success();
}

}  // namespace
}  // namespace sesr

// The handlers, as C symbols the Python side registers with jax.ffi.register_ffi_target.
namespace ffi = xla::ffi;
using sesr::Buf;

XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_conv_fwd, sesr::ConvFwd,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>().Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>()
                                  .Arg<Buf>().Ret<Buf>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_conv_dinput, sesr::ConvDinput,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>().Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>()
                                  .Ret<Buf>().Ret<Buf>().Ret<Buf>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_conv_wgrad, sesr::ConvWgrad,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>().Arg<Buf>().Arg<Buf>().Arg<Buf>().Arg<Buf>()
                                  .Ret<Buf>().Ret<Buf>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_pool_threads, sesr::PoolThreads,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>().Ret<ffi::Buffer<ffi::S32>>());
