// Closes what isa_avx512_begin.hpp opened (clang's pushed target attribute;
// GCC's pragma lasts to the end of the file, which is where this is included).
#if defined(__clang__)
#pragma clang attribute pop
#endif
