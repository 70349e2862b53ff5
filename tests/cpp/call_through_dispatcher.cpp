// Calls torchlab::bias_gelu from C++ with no Python: loading libtorchlab_ops ran its
// TORCH_LIBRARY initializers, so the operator is found by name in the dispatcher, which
// picks the kernel for the inputs' device. Checked against ATen's own gelu(x + bias).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdio>
#include <string_view>
#include <vector>

int main() {
  const auto op = c10::Dispatcher::singleton()
                      .findSchemaOrThrow("torchlab::bias_gelu", "")
                      .typed<at::Tensor(const at::Tensor&, const at::Tensor&, std::string_view)>();
  std::printf("%s\n", c10::toString(op.schema()).c_str());

  std::vector<c10::DeviceType> devices = {c10::kCPU};
  if (at::hasCUDA()) devices.push_back(c10::kCUDA);
  int failures = 0;
  for (const auto device : devices) {
    for (const auto dtype : {at::kFloat, at::kDouble}) {
      for (const char* approximate : {"none", "tanh"}) {
        const auto options = at::TensorOptions().device(device).dtype(dtype);
        const at::Tensor x = at::randn({37, 129}, options) * 3;
        const at::Tensor bias = at::randn({129}, options);
        const at::Tensor out = op.call(x, bias, approximate);
        const at::Tensor expected = at::gelu((x + bias).to(at::kDouble), approximate);
        const double error = (out.to(at::kDouble) - expected).abs().max().item<double>();
        const double tolerance = dtype == at::kFloat ? 1e-5 : 1e-12;
        const bool ok = error <= tolerance;
        failures += !ok;
        std::printf("%-4s %-7s %-4s max |error| %.2e  %s\n", c10::DeviceTypeName(device, true).c_str(),
                    c10::toString(dtype), approximate, error, ok ? "ok" : "FAILED");
      }
    }
  }
  return failures == 0 ? 0 : 1;
}
