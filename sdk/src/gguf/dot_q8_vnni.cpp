// AVX-512 VNNI (256-bit vpdpbusd) instantiation of the x86 kernels.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstring>

#include "gguf/blocks.hpp"
#include "gguf/dot_q8_x86.hpp"

namespace allm::gguf::detail::vnni {

#define ALLM_KTARGET "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"
#define ALLM_KVNNI 1
#include "gguf/dot_q8_kernels.inc"

}  // namespace allm::gguf::detail::vnni
#endif
