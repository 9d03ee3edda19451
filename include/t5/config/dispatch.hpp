// From run-time policies to a type: dispatch() calls a templated lambda with the Variant whose
// policies equal a Policies value, and T5_DISPATCHABLE_VARIANTS lists those variants (the Model
// instantiations libt5cc compiles, t5/model_instances.hpp).
#pragma once

#include <type_traits>
#include <utility>

#include "t5/config/variant.hpp"
#include "t5/core/error.hpp"

namespace t5 {

namespace detail {

/// Calls f.template operator()<Value>() for the Value among Values that equals `value`.
template <auto First, auto... Rest, class F>
constexpr decltype(auto) select(decltype(First) value, F&& f) {
  if constexpr (sizeof...(Rest) == 0) {
    if (value != First) throw Error(ErrorCode::InvalidArgument, "dispatch: policy value outside its enum");
    return f.template operator()<First>();
  } else {
    if (value == First) return f.template operator()<First>();
    return select<Rest...>(value, std::forward<F>(f));
  }
}

}  // namespace detail

/// Calls `f.template operator()<V>()` with the Variant whose policies equal `p`, e.g.
/// `dispatch(detected.policies, [&]<VariantLike V>() { return Model<V>(...); })`. Every combination
/// detection reports is instantiated: ReLU variants carry GeluApprox::Tanh (the GELU knob is unused
/// there), so 8 ReLU and 16 gated-GELU variants. All instantiations must return the same type.
template <class F>
constexpr decltype(auto) dispatch(const Policies& p, F&& f) {
  return detail::select<Ffn::Relu, Ffn::GatedGelu>(p.ffn, [&]<Ffn FF>() -> decltype(auto) {
    auto rest = [&]<GeluApprox G>() -> decltype(auto) {
      return detail::select<PositionBias::Shared, PositionBias::PerLayer>(p.position_bias, [&]<PositionBias P>() -> decltype(auto) {
        return detail::select<AttnScale::Off, AttnScale::InvSqrtHeadDim>(p.attn_scale, [&]<AttnScale A>() -> decltype(auto) {
          return detail::select<LmHead::TiedScaled, LmHead::Untied>(p.lm_head, [&]<LmHead L>() -> decltype(auto) {
            return f.template operator()<Variant<FF, G, P, A, L>>();
          });
        });
      });
    };
    if constexpr (FF == Ffn::Relu) {
      if (p.gelu != GeluApprox::Tanh)
        throw Error(ErrorCode::InvalidArgument, "dispatch: a ReLU variant carries GeluApprox::Tanh (the GELU knob is unused)");
      return rest.template operator()<GeluApprox::Tanh>();
    } else {
      return detail::select<GeluApprox::Tanh, GeluApprox::Erf>(p.gelu, rest);
    }
  });
}

/// The variants dispatch() reaches, as X(Ffn, GeluApprox, PositionBias, AttnScale, LmHead, extra...)
/// calls (eight of each FFN and GELU pair: ReLU, gated tanh GELU, gated erf GELU), for the explicit
/// instantiations, which a template cannot spell. The static_asserts below keep the list and
/// dispatch() the same set.
#define T5_VARIANTS_OF(FFN, GELU, X, ...)                                                                                   \
  X(FFN, GELU, Shared, Off, TiedScaled, __VA_ARGS__) X(FFN, GELU, Shared, Off, Untied, __VA_ARGS__)                         \
  X(FFN, GELU, Shared, InvSqrtHeadDim, TiedScaled, __VA_ARGS__) X(FFN, GELU, Shared, InvSqrtHeadDim, Untied, __VA_ARGS__)   \
  X(FFN, GELU, PerLayer, Off, TiedScaled, __VA_ARGS__) X(FFN, GELU, PerLayer, Off, Untied, __VA_ARGS__)                     \
  X(FFN, GELU, PerLayer, InvSqrtHeadDim, TiedScaled, __VA_ARGS__) X(FFN, GELU, PerLayer, InvSqrtHeadDim, Untied, __VA_ARGS__)
#define T5_DISPATCHABLE_VARIANTS(X, ...)                                                       \
  T5_VARIANTS_OF(Relu, Tanh, X, __VA_ARGS__) T5_VARIANTS_OF(GatedGelu, Tanh, X, __VA_ARGS__) \
  T5_VARIANTS_OF(GatedGelu, Erf, X, __VA_ARGS__)

/// Variant<Ffn::F, GeluApprox::G, ...> from the bare enumerator names of a T5_DISPATCHABLE_VARIANTS entry.
#define T5_VARIANT(F, G, P, A, L) \
  ::t5::Variant<::t5::Ffn::F, ::t5::GeluApprox::G, ::t5::PositionBias::P, ::t5::AttnScale::A, ::t5::LmHead::L>

namespace detail {
// dispatch() maps each listed variant's policies back to that variant, and the list holds 24
// distinct entries: so it is exactly the set dispatch() can reach (8 ReLU + 16 gated).
template <class V>
constexpr bool dispatches_to_itself() {
  return dispatch(V::policies, []<class W>() { return std::is_same_v<W, V>; });
}
#define T5_CHECK_DISPATCH(F, G, P, A, L, unused) static_assert(dispatches_to_itself<T5_VARIANT(F, G, P, A, L)>());
T5_DISPATCHABLE_VARIANTS(T5_CHECK_DISPATCH, 0)
#undef T5_CHECK_DISPATCH
#define T5_COUNT_VARIANT(F, G, P, A, L, unused) +1
static_assert(0 T5_DISPATCHABLE_VARIANTS(T5_COUNT_VARIANT, 0) == 24);
#undef T5_COUNT_VARIANT
}  // namespace detail

}  // namespace t5
