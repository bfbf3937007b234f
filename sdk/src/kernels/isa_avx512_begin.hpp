// Opens an AVX-512 kernel file: everything defined between this header and
// isa_avx512_end.hpp is compiled for AVX-512 (F/BW/VL/DQ) with FMA and F16C,
// whatever the rest of the build targets. Such a file is entered only after
// CPUID confirmed support (dispatch.cpp). Include it first, before any other
// header, and include no standard-library header after it (kernel_table.hpp
// says why). No include guard: each kernel file opens the ISA once.
//
// GCC takes the ISA for the rest of the file as a pragma; clang, which ignores
// that pragma, as a target attribute pushed onto every function until the end
// header pops it.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif
// GCC 12 false positives inside avx512fintrin.h (self-initialised "undefined" vectors).
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
