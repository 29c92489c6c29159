// XLA FFI handlers of the int8 SESR network (int8_net.h): the forward pass and the list of compiled kernel paths.
#include <cstdint>
#include <string>

#include "int8_net.h"
#include "xla/ffi/api/ffi.h"

namespace sesr {
namespace int8 {
namespace {

// y (N, sH, sW, 1) float32 and the last conv's codes (N, s^2, H, W) uint8 (or an empty array: not wanted) of the
// network packed in (ints, floats, weights, bias, tables) on x (N, H, W, 1) float32; `path`: a Path.
ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::S32> ints, ffi::Buffer<ffi::F32> floats,
                   ffi::Buffer<ffi::S8> weights, ffi::Buffer<ffi::S32> bias, ffi::Buffer<ffi::U8> tables,
                   ffi::ResultBuffer<ffi::F32> y, ffi::ResultBuffer<ffi::U8> codes, int32_t path) {
  Net net;
  const std::string err = parse_net(ints.typed_data(), ints.element_count(), floats.typed_data(), floats.element_count(),
                                    weights.typed_data(), weights.element_count(), bias.typed_data(),
                                    bias.element_count(), tables.typed_data(), tables.element_count(), net);
  if (!err.empty()) return ffi::Error::InvalidArgument("sesr_int8_forward: " + err);
  const auto xd = x.dimensions();
  if (xd.size() != 4 || xd[3] != 1)
    return ffi::Error::InvalidArgument("sesr_int8_forward: expected an NHWC batch of Y planes (N, H, W, 1)");
  const int64_t N = xd[0], H = xd[1], W = xd[2], s = net.scale;
  const auto yd = y->dimensions();
  if (yd.size() != 4 || yd[0] != N || yd[1] != s * H || yd[2] != s * W || yd[3] != 1)
    return ffi::Error::InvalidArgument("sesr_int8_forward: the output must be (N, sH, sW, 1)");
  const bool want_codes = codes->element_count() != 0;
  if (want_codes && static_cast<int64_t>(codes->element_count()) != N * s * s * H * W)
    return ffi::Error::InvalidArgument("sesr_int8_forward: the codes output must be (N, s*s, H, W) or empty");
  const int32_t paths = available_paths();
  if (path == kBest) path = (paths >> kVnni & 1) ? kVnni : (paths >> kAvx2 & 1) ? kAvx2 : kScalar;
  if (path < kScalar || path > kVnni || !(paths >> path & 1))
    return ffi::Error::InvalidArgument("sesr_int8_forward: kernel path " + std::to_string(path) +
                                       " is not available on this CPU or in this build");
  if (N * H * W == 0) return ffi::Error::Success();
  forward(pool, net, path, x.typed_data(), N, H, W, y->typed_data(), want_codes ? codes->typed_data() : nullptr);
  return ffi::Error::Success();
}

// The kernel paths this build runs on this CPU: bit 1 portable C++, bit 2 AVX2, bit 3 AVX-512 VNNI.
ffi::Error Paths(ffi::ResultBuffer<ffi::S32> out) {
  *out->typed_data() = available_paths();
  return ffi::Error::Success();
}

}  // namespace
}  // namespace int8
}  // namespace sesr

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_int8_forward, sesr::int8::Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::S8>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::U8>>()
                                  .Attr<int32_t>("path"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(sesr_int8_paths, sesr::int8::Paths, ffi::Ffi::Bind().Ret<ffi::Buffer<ffi::S32>>());
