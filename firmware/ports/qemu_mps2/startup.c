/* Start-up code of the qemu_mps2 port (Cortex-M4F, mps2-an386): vector table, C runtime init, FPU, MPU stack
 * guard, fault handlers that end the emulator with a status instead of hanging. */
#include <stdint.h>

#include "qemu_mps2.h"
#include "tk_arch.h"

extern uint32_t __stack_guard_size[], __stack_top[], __stack_bottom[], __data_load[], __data_start[], __data_end[],
    __bss_start[], __bss_end[];
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void Uart0Rx_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void tk_qemu_hardfault_exit(uint32_t sp);

#define STACK_PAINT 0xCDCDCDCDu
#define REG(addr) (*(volatile uint32_t *)(addr))

/* Cortex-M vector table: initial stack pointer, 15 system exceptions, then the mps2 IRQs (0 = UART0 RX). */
static void (*const vectors[16 + 1])(void) TK_SECTION(".vectors") TK_USED = {
    (void (*)(void))__stack_top,
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    MemManage_Handler, /* MemManage: the MPU stack guard */
    Default_Handler,   /* BusFault */
    Default_Handler,   /* UsageFault */
    0,                 /* reserved */
    0,                 /* reserved */
    0,                 /* reserved */
    0,                 /* reserved */
    Default_Handler,   /* SVCall */
    Default_Handler,   /* DebugMonitor */
    0,                 /* reserved */
    Default_Handler,   /* PendSV */
    SysTick_Handler,   /* SysTick */
    Uart0Rx_Handler,   /* IRQ 0: UART0 RX */
};

/* Fault handlers move SP back to the top of the stack first: after an overflow the old one is unusable. */
/* Status 3 (stack overflow) when the fault happened with SP inside or below the guard, or with MemManage status
 * bits (CFSR[7:0]) set; any other HardFault is status 1. `sp` is the stack pointer at the fault. */
void tk_qemu_hardfault_exit(uint32_t sp)
{
    uint32_t guard_top = (uint32_t)(uintptr_t)__stack_bottom + (uint32_t)(uintptr_t)__stack_guard_size;
    tk_qemu_fault_exit((sp < guard_top || (REG(0xE000ED28) & 0xFFu)) ? 3 : 1);
}
TK_NAKED void HardFault_Handler(void)
{
    __asm volatile("mrs r0, msp\n ldr r1, =__stack_top\n msr msp, r1\n b tk_qemu_hardfault_exit");
}
TK_NAKED void MemManage_Handler(void)
{
    __asm volatile("ldr r0, =__stack_top\n msr msp, r0\n movs r0, #3\n b tk_qemu_fault_exit");
}
TK_NAKED void Default_Handler(void)
{
    __asm volatile("ldr r0, =__stack_top\n msr msp, r0\n movs r0, #4\n b tk_qemu_fault_exit");
}

/* MPU region 0: the guard at the bottom of the stack (a power of two, aligned to its size), no access: a stack
 * overflow faults instead of running below RAM, where QEMU reads zeros and ignores writes. */
static void stack_guard_init(void)
{
    uint32_t size_log2 = (uint32_t)__builtin_ctz((uint32_t)(uintptr_t)__stack_guard_size);
    REG(0xE000ED98) = 0;                                         /* MPU_RNR: region 0 */
    REG(0xE000ED9C) = (uint32_t)(uintptr_t)__stack_bottom;       /* MPU_RBAR */
    REG(0xE000EDA0) = (1u << 28) | ((size_log2 - 1u) << 1) | 1u; /* MPU_RASR: XN, AP=no access, SIZE, ENABLE */
    REG(0xE000ED24) |= 1u << 16;                                 /* SHCSR: MemManage faults enabled */
    REG(0xE000ED94) = (1u << 2) | 1u;                            /* MPU_CTRL: default map for the rest, ENABLE */
    __asm volatile("dsb\n isb" ::: "memory");
}

/* C++ support for a C++ engine (the port links with -nostartfiles, so nothing else provides these): the
 * constructors of static objects, and the handle their destructors would be registered with (never run: the
 * firmware does not return from main). */
typedef void (*tk_init_fn)(void);
extern tk_init_fn __preinit_array_start[], __preinit_array_end[], __init_array_start[], __init_array_end[];
void *__dso_handle = 0;

static void run_constructors(void)
{
    for (tk_init_fn *fn = __preinit_array_start; fn < __preinit_array_end; ++fn) (*fn)();
    for (tk_init_fn *fn = __init_array_start; fn < __init_array_end; ++fn) (*fn)();
}

void Reset_Handler(void)
{
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack_bottom; p < sp - 16;) *p++ = STACK_PAINT; /* for tk_platform_stack_used() */

    REG(0xE000ED88) |= 0xFu << 20; /* CPACR: full access to CP10/CP11 (the FPU) */
    __asm volatile("dsb\n isb" ::: "memory");
    stack_guard_init();
    run_constructors();
    main();
    tk_qemu_fault_exit(5); /* main never returns */
}

uint32_t tk_qemu_stack_used(void)
{
    const uint32_t *p = __stack_bottom + (uintptr_t)__stack_guard_size / 4u; /* skip the guard */
    while (p < __stack_top && *p == STACK_PAINT) ++p;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
