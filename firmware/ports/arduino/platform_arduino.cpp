/* Arduino port (PlatformIO envs in platformio.ini): the platform seam over Arduino's Serial and the CPU's cycle
 * counter: DWT CYCCNT on a Cortex-M (Nano 33 BLE, 64 MHz), CCOUNT on the ESP32 (240 MHz). Ticks are cycles, so
 * the harness reports microseconds = ticks / tick_hz. Not compiled in tinykd's CI (needs PlatformIO's registry). */
#include <Arduino.h>

#include "app.h"
#include "platform.h"

#ifndef TK_SERIAL
#define TK_SERIAL Serial /* native USB on the Nano 33 BLE; Serial1 (UARTE0) for Renode */
#endif
#ifndef TK_BOARD_NAME
#define TK_BOARD_NAME "arduino"
#endif

#if defined(ARDUINO_ARCH_ESP32)
#include <esp_system.h>
static uint32_t cycles(void) { return ESP.getCycleCount(); }
static uint32_t cpu_hz(void) { return getCpuFrequencyMhz() * 1000000u; }
static void cycle_counter_init(void) {}
static uint32_t entropy(void) { return esp_random(); }
static void board_reset(void) { ESP.restart(); }
#else /* Cortex-M: the DWT cycle counter (not emulated by QEMU, present on the nRF52840) */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
static uint32_t cycles(void) { return DWT_CYCCNT; }
static uint32_t cpu_hz(void) { return SystemCoreClock; }
static void cycle_counter_init(void)
{
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
}
static uint32_t entropy(void) { return micros() * 2654435761u ^ DWT_CYCCNT; }
static void board_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    for (;;) {
    }
}
#endif

static tk_platform_info_t info;
static uint32_t boot_id;

extern "C" {
const tk_platform_info_t *tk_platform_info(void) { return &info; }
int tk_platform_read_byte(void) { return TK_SERIAL.available() > 0 ? TK_SERIAL.read() : -1; }
void tk_platform_write(const uint8_t *data, size_t n) { TK_SERIAL.write(data, n); }
void tk_platform_idle(void) { yield(); }
uint32_t tk_platform_ticks(void) { return cycles(); }
uint32_t tk_platform_boot_id(void) { return boot_id; }
uint32_t tk_platform_stack_used(void) { return 0; }
void tk_platform_reset(void) { board_reset(); }
void tk_platform_exit(int status) { (void)status; } /* a board keeps running */
}

void setup()
{
    TK_SERIAL.begin(115200);
    for (uint32_t start = millis(); !TK_SERIAL && millis() - start < 3000;) {
    } /* native USB: give the host a moment to open the port, so it sees BOOT */
    cycle_counter_init();
    boot_id = entropy();
    info.board = TK_BOARD_NAME;
    info.tick_hz = cpu_hz();
    tk_app_init();
}

void loop()
{
    switch (tk_app_step()) {
    case TK_APP_RESET:
        TK_SERIAL.flush();
        tk_platform_reset();
        break;
    case TK_APP_EXIT:
        tk_app_init(); /* BYE on a board: start a fresh session */
        break;
    default:
        break;
    }
}
