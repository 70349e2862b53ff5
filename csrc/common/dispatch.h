// Dtype dispatch: every torchlab kernel is instantiated for the same four dtypes.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#define TORCHLAB_DISPATCH_FLOATING_TYPES(TYPE, NAME, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, TYPE, NAME, __VA_ARGS__)
