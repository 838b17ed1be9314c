/* Internals shared by the qemu_mps2 port's files. */
#ifndef TK_QEMU_MPS2_H
#define TK_QEMU_MPS2_H

#include <stdint.h>

#include "tk_arch.h"

/* Semihosting call `op` with argument block `arg` (QEMU: -semihosting-config enable=on,target=native). */
static inline int tk_qemu_semihost(int op, void *arg)
{
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Ends the emulation with `status` through semihosting SYS_EXIT_EXTENDED (1 HardFault, 3 stack overflow,
 * 4 unexpected exception, 5 main returned). Emulator only: on a board BKPT 0xAB faults. */
TK_NORETURN void tk_qemu_fault_exit(int status);

/* Deepest stack use since boot, from the paint pattern Reset_Handler left in the stack. */
uint32_t tk_qemu_stack_used(void);

#endif /* TK_QEMU_MPS2_H */
