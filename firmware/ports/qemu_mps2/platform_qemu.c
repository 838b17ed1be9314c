/* qemu_mps2 port: the platform seam on QEMU's mps2-an386 (Cortex-M4F, 25 MHz virtual clock).
 *   UART0: CMSDK APB UART at 0x40004000, RX interrupt (IRQ 0) into a ring buffer. When the ring is full the RX
 *          interrupt is masked and the byte left in the UART, so QEMU holds back the next one: no byte is lost.
 *   Ticks: SysTick on the processor clock. Under `-icount shift=7` one instruction takes 128 virtual ns and a
 *          tick 40 ns, so instructions = ticks / 3.2 exactly (bench/device.py checks it).
 *   Exit:  semihosting SYS_EXIT_EXTENDED (needs -semihosting-config enable=on,target=native).
 */
#include <stdint.h>

#include "app.h"
#include "platform.h"
#include "qemu_mps2.h"
#include "tk_arch.h"

#ifndef TK_BOARD_NAME
#define TK_BOARD_NAME "qemu-mps2-an386"
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART0 0x40004000u
#define UART_DATA REG(UART0 + 0x00)
#define UART_STATE REG(UART0 + 0x04) /* bit 0: TX full, bit 1: RX full */
#define UART_CTRL REG(UART0 + 0x08)  /* bit 0: TX enable, 1: RX enable, 3: RX interrupt enable */
#define UART_INTCLEAR REG(UART0 + 0x0C)
#define UART_BAUDDIV REG(UART0 + 0x10)
#define UART_CTRL_RUN 0x3u
#define UART_CTRL_RX_IRQ 0x8u
#define NVIC_ISER0 REG(0xE000E100)
#define SYST_CSR REG(0xE000E010)
#define SYST_RVR REG(0xE000E014)
#define SYST_CVR REG(0xE000E018)
#define AIRCR REG(0xE000ED0C)
#define CPU_HZ 25000000u
#define RING_BYTES 256u /* power of two */

extern uint32_t __flash_used[], __ram_used[], __stack_size[];

static volatile uint8_t ring[RING_BYTES];
static volatile uint32_t ring_head, ring_tail; /* head: written by the IRQ; tail: by the app */
static volatile uint32_t systick_wraps;
TK_SECTION(".noinit") static uint32_t boot_count, boot_magic; /* survive a SYSRESETREQ */
static tk_platform_info_t info;

/* Moves received bytes from the UART into the ring while there is room. Returns 0 if it stopped because the
 * ring is full (the byte stays in the UART, and QEMU sends no more until it is read). */
static int uart_drain(void)
{
    while (UART_STATE & 0x2u) {
        if (ring_head - ring_tail >= RING_BYTES) return 0;
        ring[ring_head % RING_BYTES] = (uint8_t)UART_DATA;
        ring_head++;
    }
    return 1;
}

void Uart0Rx_Handler(void)
{
    UART_INTCLEAR = 0x2u; /* first: a byte arriving during the drain raises the interrupt again */
    if (!uart_drain()) UART_CTRL = UART_CTRL_RUN; /* full: RX interrupt off until the app makes room */
}

void SysTick_Handler(void) { systick_wraps++; }

int tk_platform_read_byte(void)
{
    if (ring_head == ring_tail) return -1;
    uint8_t byte = ring[ring_tail % RING_BYTES];
    ring_tail++;
    if (!(UART_CTRL & UART_CTRL_RX_IRQ)) { /* room again: take the held byte, then interrupts back on */
        __asm volatile("cpsid i" ::: "memory");
        if (uart_drain()) {
            UART_CTRL = UART_CTRL_RUN | UART_CTRL_RX_IRQ;
            /* QEMU 7.2's CMSDK UART raises no interrupt for a byte that arrived while it was off (fixed in later
             * QEMU): take such a byte now, or the app would sleep in WFI with it waiting in the UART forever. */
            if (!uart_drain()) UART_CTRL = UART_CTRL_RUN;
        }
        __asm volatile("cpsie i" ::: "memory");
    }
    return byte;
}

void tk_platform_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        while (UART_STATE & 0x1u) {
        }
        UART_DATA = data[i];
    }
}

/* SysTick is stopped while waiting: QEMU runs with `-icount sleep=off` (5x faster host->device bytes than
 * sleep=on), and would otherwise jump from one SysTick wrap to the next, burning a host core while idle. So ticks
 * count busy time only; inference timing never includes idle time. */
void tk_platform_idle(void)
{
    __asm volatile("cpsid i" ::: "memory");
    if (ring_head == ring_tail) {
        SYST_CSR = 0x6u;       /* stop (keeps the count) */
        __asm volatile("wfi"); /* a pending IRQ still wakes it */
        SYST_CSR = 0x7u;
    }
    __asm volatile("cpsie i" ::: "memory");
}

uint32_t tk_platform_ticks(void)
{
    uint32_t wraps, value;
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return (wraps << 24) + (0xFFFFFFu - value);
}

uint32_t tk_platform_boot_id(void) { return boot_count; }

uint32_t tk_platform_stack_used(void) { return tk_qemu_stack_used(); }

void tk_platform_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    for (;;) {
    }
}

void tk_qemu_fault_exit(int status)
{
    static const char *const messages[] = {"",
                                           "tinykd: HardFault\n",
                                           "",
                                           "tinykd: stack overflow (MPU guard)\n",
                                           "tinykd: unexpected exception\n",
                                           "tinykd: main returned\n",
                                           "tinykd: engine init failed\n"};
    if (status > 0 && status < 7) tk_qemu_semihost(0x04, (void *)messages[status]); /* SYS_WRITE0 */
    uint32_t block[2] = {0x20026u, (uint32_t)status}; /* ADP_Stopped_ApplicationExit, exit status */
    tk_qemu_semihost(0x20, block);                    /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}

#ifdef TK_PROFILE_OPS
/* Per-operator instruction profile (model.c calls this): "op <index> <ticks>" per operator on QEMU's stdout
 * (semihosting SYS_WRITE0). The ticks exclude the printing. */
void tk_profile_op(int op);
void tk_profile_op(int op)
{
    static uint32_t since;
    if (op >= 0) {
        uint32_t ticks = tk_platform_ticks() - since;
        char line[32] = "op ", digits[12];
        int n = 3, d = 0;
        do {
            digits[d++] = (char)('0' + op % 10);
            op /= 10;
        } while (op);
        while (d) line[n++] = digits[--d];
        line[n++] = ' ';
        do {
            digits[d++] = (char)('0' + ticks % 10u);
            ticks /= 10u;
        } while (ticks);
        while (d) line[n++] = digits[--d];
        line[n++] = '\n';
        line[n] = '\0';
        tk_qemu_semihost(0x04, line); /* SYS_WRITE0 */
    }
    since = tk_platform_ticks();
}
#endif

void tk_platform_exit(int status) { tk_qemu_fault_exit(status); }

const tk_platform_info_t *tk_platform_info(void) { return &info; }

int main(void)
{
    boot_count = (boot_magic == 0x746B6264u) ? boot_count + 1 : 1;
    boot_magic = 0x746B6264u; /* "tkbd" */
    info.board = TK_BOARD_NAME;
    info.tick_hz = CPU_HZ;
    info.flash_bytes = (uint32_t)(uintptr_t)__flash_used;
    info.ram_bytes = (uint32_t)(uintptr_t)__ram_used;
    info.stack_bytes = (uint32_t)(uintptr_t)__stack_size;

    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 0x7u;   /* processor clock, interrupt on wrap, enable */
    UART_BAUDDIV = 16; /* QEMU ignores TX below 16 */
    UART_CTRL = UART_CTRL_RUN | UART_CTRL_RX_IRQ;
    NVIC_ISER0 = 1u; /* IRQ 0: UART0 RX */

    for (;;) {
        if (tk_app_init() != 0) tk_platform_exit(6);
        tk_app_action_t action;
        while ((action = tk_app_step()) == TK_APP_CONTINUE) {
        }
        if (action == TK_APP_EXIT) tk_platform_exit(0);
        tk_platform_reset();
    }
}
