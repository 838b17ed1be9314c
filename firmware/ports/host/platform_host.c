/* Host port: the app on x86 Linux, talking over a pseudo-terminal (posix_openpt). Prints "TK_PTY <path>" on
 * stdout; the harness opens that path with pyserial like any serial port. The fast path for protocol and
 * bit-exactness tests; builds with -fsanitize=address,undefined.
 *
 * Test hook (fault injection, host port only): TK_HOST_RESET_AFTER_BYTES=N makes the device "reset" once after
 * it has received N bytes: the rest of that request is lost, the app restarts with a new boot id and sends BOOT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "platform.h"

static int master_fd = -1;
static uint32_t boot_id;
static long reset_after_bytes = -1; /* fault injection; -1 = off */
static long bytes_received;
static int reset_pending;

static const tk_platform_info_t host_info = {
    .board = "host-pty", .tick_hz = 1000000000u, .flash_bytes = 0, .ram_bytes = 0, .stack_bytes = 0};

const tk_platform_info_t *tk_platform_info(void) { return &host_info; }

int tk_platform_read_byte(void)
{
    if (reset_pending) return -1;
    uint8_t byte;
    ssize_t n = read(master_fd, &byte, 1);
    if (n != 1) return -1;
    if (reset_after_bytes >= 0 && ++bytes_received >= reset_after_bytes) {
        reset_after_bytes = -1;
        reset_pending = 1;
        return -1;
    }
    return byte;
}

void tk_platform_write(const uint8_t *data, size_t n)
{
    while (n > 0) {
        ssize_t written = write(master_fd, data, n);
        if (written < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                struct pollfd p = {.fd = master_fd, .events = POLLOUT};
                poll(&p, 1, 100);
                continue;
            }
            return; /* nobody listening: the bytes are lost, as on a UART */
        }
        data += written;
        n -= (size_t)written;
    }
}

void tk_platform_idle(void)
{
    struct pollfd p = {.fd = master_fd, .events = POLLIN};
    poll(&p, 1, 50);
}

uint32_t tk_platform_ticks(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
}

uint32_t tk_platform_boot_id(void) { return boot_id; }

uint32_t tk_platform_stack_used(void) { return 0; }

static void new_boot_id(void)
{
    boot_id = (boot_id * 1664525u + 1013904223u) ^ tk_platform_ticks() ^ (uint32_t)getpid();
}

void tk_platform_reset(void)
{
    usleep(20000);                /* a board takes a while to come back */
    tcflush(master_fd, TCIFLUSH); /* whatever was in flight is lost */
    reset_pending = 0;
    new_boot_id();
}

void tk_platform_exit(int status) { exit(status); }

static int open_pty(void)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0 || grantpt(fd) != 0 || unlockpt(fd) != 0) return -1;
    const char *name = ptsname(fd);
    if (name == NULL) return -1;
    /* Raw mode on the slave side, held open so the master never sees EIO while the harness reopens it. */
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) return -1;
    struct termios tio;
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    printf("TK_PTY %s\n", name);
    fflush(stdout);
    return fd;
}

int main(void)
{
    master_fd = open_pty();
    if (master_fd < 0) {
        perror("tinykd host port: cannot open a pseudo-terminal");
        return 1;
    }
    const char *fault = getenv("TK_HOST_RESET_AFTER_BYTES");
    if (fault != NULL) reset_after_bytes = strtol(fault, NULL, 10);
    new_boot_id();
    for (;;) {
        if (tk_app_init() != 0) fprintf(stderr, "tinykd host port: engine init failed\n");
        tk_app_action_t action;
        while ((action = tk_app_step()) == TK_APP_CONTINUE && !reset_pending) {
        }
        if (action == TK_APP_EXIT) tk_platform_exit(0);
        tk_platform_reset();
    }
}
