/*
 * tk_arch.h: what tinykd's C knows about the compiler and the processor, in one place. The kernels, the models
 * the compiler generates and the ports include it; no other file tests an architecture or compiler macro.
 * Public (include/) because the generated model.c uses TK_ALIGNED.
 *
 * TK_DSP       1 when the kernels take their Cortex-M DSP-extension loops (SMLAD, SXTAB16, SMMLAR, SSUB8 + SEL:
 *              Cortex-M4, M7, M33 with DSP), 0 for the portable C99 loops (host, Cortex-M0/M3, ESP32). The DSP
 *              loops are GNU inline assembly, so other compilers take the portable ones. Both give the same
 *              bits (tests/test_kernels_qemu.py, tests/test_compiler.py).
 * TK_DSP_ACLE  1 when the compiler has the ACLE DSP intrinsics (<arm_acle.h>: GCC >= 10, clang; detected by
 *              their builtins, not by a version number), 0 for one-instruction inline-asm wrappers (GCC 7.2,
 *              which PlatformIO pins for the Nano 33 BLE). -DTK_DSP_ASM forces the wrappers
 *              (tests/test_board_builds.py checks both give the same bits in QEMU).
 * TK_...       attribute macros (below); empty for a compiler without GNU attributes.
 * TK_STATIC_ASSERT, TK_ASM_OFFSET  compile-time checks (GNU C99 too), below.
 */
#ifndef TK_ARCH_H
#define TK_ARCH_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define TK_GNU 1
#else
#define TK_GNU 0
#endif

#if TK_GNU && defined(__ARM_FEATURE_DSP)
#define TK_DSP 1
#else
#define TK_DSP 0
#endif

#if TK_DSP && !defined(TK_DSP_ASM) && defined(__has_builtin)
#if __has_builtin(__builtin_arm_smlad) && __has_builtin(__builtin_arm_sxtab16) && __has_builtin(__builtin_arm_ssat) && \
    __has_builtin(__builtin_arm_smlabb) && __has_builtin(__builtin_arm_smlatt)
#define TK_DSP_ACLE 1
#endif
#endif
#ifndef TK_DSP_ACLE
#define TK_DSP_ACLE 0
#endif

#if TK_GNU
#define TK_ALIGNED(bytes) __attribute__((aligned(bytes))) /* the variable starts at a multiple of `bytes` */
#define TK_ALWAYS_INLINE __attribute__((always_inline))   /* inlined even where GCC's heuristics would not */
#define TK_NOINLINE __attribute__((noinline))             /* kept out of line (code size, register pressure) */
#define TK_MAY_ALIAS __attribute__((may_alias))           /* a type whose lvalues may alias any other type */
#define TK_UNUSED __attribute__((unused))                 /* no warning when unused (naked functions' arguments) */
#define TK_USED __attribute__((used))                     /* kept although nothing refers to it (vector table) */
#define TK_SECTION(name) __attribute__((section(name)))   /* placed in linker section `name` */
#define TK_NORETURN __attribute__((noreturn))
/* Functions whose body is one basic asm statement: naked (no prologue: the asm saves what it uses), and opaque to
 * GCC's interprocedural passes (noipa): -fipa-ra would otherwise read an empty register usage from the asm-only
 * body and keep caller values in r0-r3 / r12 across the call. */
#if defined(__clang__)
#define TK_NAKED __attribute__((naked, noinline, unused))
#elif defined(__has_attribute)
#if __has_attribute(noipa)
#define TK_NAKED __attribute__((naked, noinline, noipa, unused))
#endif
#endif
#ifndef TK_NAKED /* GCC < 8 has no noipa: no interprocedural register allocation for these instead */
#define TK_NAKED __attribute__((naked, noinline, noclone, unused, optimize("no-ipa-ra")))
#endif
#else
#define TK_ALIGNED(bytes)
#define TK_ALWAYS_INLINE
#define TK_NOINLINE
#define TK_MAY_ALIAS /* compilers without it do not optimize on type-based aliasing the way GCC does */
#define TK_UNUSED
#define TK_USED
#define TK_SECTION(name)
#define TK_NORETURN
#endif

/* A compile error (with `message`) unless `condition` holds. C11's _Static_assert, which GCC and clang take in
 * C99 too when it is marked __extension__ (no -pedantic warning). */
#if TK_GNU
#define TK_STATIC_ASSERT(condition, message) __extension__ _Static_assert(condition, message)
#else
#define TK_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif

/* The assembly reads `type`.`field` at byte `offset`: a compile error when the struct changes under it. Checked
 * beside each struct the assembly reads (under TK_DSP: the offsets are those of 4-byte pointers). Why not pass
 * the offsets to the asm as "i"(offsetof(...)) operands instead: the asm functions are naked, and GCC supports
 * only basic asm (no operands) in a naked function; and the asm also loads whole structs with LDM / LDRD, where
 * the field order is the register order, which no operand can express. */
#define TK_ASM_OFFSET(type, field, offset)              \
    TK_STATIC_ASSERT(offsetof(type, field) == (offset), \
                     #type "." #field " moved: the assembly reads it at byte " #offset)

#endif /* TK_ARCH_H */
