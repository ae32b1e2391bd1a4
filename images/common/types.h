/* Fixed-width types for freestanding code, taken from the compiler's own predefined macros
 * so that no C library header is needed. */
#ifndef COMMON_TYPES_H
#define COMMON_TYPES_H

typedef __UINT8_TYPE__   uint8_t;
typedef __UINT16_TYPE__  uint16_t;
typedef __UINT32_TYPE__  uint32_t;
typedef __UINT64_TYPE__  uint64_t;
typedef __INT64_TYPE__   int64_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef __SIZE_TYPE__    size_t;

typedef _Bool bool;
#define true  1
#define false 0
#define NULL  ((void *)0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define ALIGN_UP(x, a)   ALIGN_DOWN((x) + (uint64_t)(a) - 1, (a))

#define NORETURN __attribute__((noreturn))
#define NOINLINE __attribute__((noinline))

#endif
