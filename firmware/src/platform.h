/* Platform seam: the only things the app needs from a port (firmware/ports/<port>/). */
#ifndef TK_PLATFORM_H
#define TK_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

/* Figures of the firmware image, reported in HELLO (0 when a port cannot know them). */
typedef struct {
    const char *board;    /* e.g. "qemu-mps2-an386", "host-pty", "nano33ble" */
    uint32_t tick_hz;     /* ticks per second of tk_platform_ticks() (virtual seconds on QEMU) */
    uint32_t flash_bytes; /* text + rodata + data image */
    uint32_t ram_bytes;   /* data + bss + stack */
    uint32_t stack_bytes; /* reserved stack */
} tk_platform_info_t;

const tk_platform_info_t *tk_platform_info(void);

/* Next received byte (0..255), or -1 when none is waiting. Never blocks. */
int tk_platform_read_byte(void);

/* Sends n bytes; blocks until they are handed to the link. */
void tk_platform_write(const uint8_t *data, size_t n);

/* Nothing to do: wait a little for input (WFI on a Cortex-M, poll() on the host). */
void tk_platform_idle(void);

/* Free-running tick counter (wraps; differences of two readings are valid across one wrap). */
uint32_t tk_platform_ticks(void);

/* A number that differs from one boot to the next (lets the host notice a reset). */
uint32_t tk_platform_boot_id(void);

/* Deepest stack use seen so far in bytes (0 if unknown). */
uint32_t tk_platform_stack_used(void);

/* Resets the device (does not return on a Cortex-M; the host port restarts its app loop). */
void tk_platform_reset(void);

/* Ends an emulator run with `status` (semihosting on QEMU, exit() on the host); a board ignores it. */
void tk_platform_exit(int status);

#ifdef __cplusplus
}
#endif

#endif /* TK_PLATFORM_H */
