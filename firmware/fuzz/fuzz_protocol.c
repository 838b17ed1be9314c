/* libFuzzer target: the protocol parser and the app's request handler, fed arbitrary bytes.
 *
 * Build (bench/fuzz.py does it; `make fuzz` runs it):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ifirmware/src \
 *         firmware/fuzz/fuzz_protocol.c firmware/src/app.c firmware/src/tk_protocol.c -o fuzz_protocol
 *
 * Each input is used twice:
 *  1. fed byte by byte into a fresh parser; every frame it accepts must be in bounds, carry a CRC that matches, and
 *     survive tk_frame_encode -> parse unchanged;
 *  2. fed into the real app (app.c) through a fake platform (the input is the UART, replies go to a checker) and a
 *     fake engine (64 int8 in, 10 int8 out): every byte the device sends must form complete frames with valid
 *     CRCs, and each reply must carry the request's seq. A RESET request restarts the app, as on a board.
 * ASan catches out-of-bounds access, UBSan undefined behaviour; a broken invariant calls abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "engine.h"
#include "platform.h"
#include "tk_protocol.h"

#define CHECK(cond)           \
    do {                      \
        if (!(cond)) abort(); \
    } while (0)

/* ---- fake engine: a fixed, input-dependent function (its results are not the point, its bounds are) ---- */
static const tk_engine_info_t fake_engine = {
    .name = "aot",
    .model_sha256 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    .input = {.rank = 4, .dims = {1, 8, 8, 1}, .bytes = 64, .scale = 0.5f, .zero_point = -128},
    .output = {.rank = 2, .dims = {1, 10}, .bytes = 10, .scale = 0.25f, .zero_point = 3},
    .arena_bytes = 128,
    .weight_bytes = 650,
};

int tk_engine_init(void) { return 0; }
const tk_engine_info_t *tk_engine_info(void) { return &fake_engine; }
int tk_engine_invoke(const int8_t *input, int8_t *output)
{
    if (input[0] == 127 && input[63] == -128) return 1; /* reaches the engine-failed reply */
    for (int j = 0; j < 10; ++j) {
        int32_t acc = 0;
        for (int i = 0; i < 64; ++i) acc += input[i] * ((i + j) % 5 - 2);
        output[j] = (int8_t)(acc >> 8);
    }
    return 0;
}

/* ---- fake platform: the fuzz input is the UART's RX, TX goes to a checking parser ---- */
static const uint8_t *rx;
static size_t rx_size, rx_pos;
static tk_parser_t tx_checker;
static tk_parser_t rx_mirror; /* parses RX like the app does, to know which request a reply answers */
static int answer_seq = -1;   /* seq of the request (or damaged frame) awaiting its reply, -1 = none */

static const tk_platform_info_t fake_platform = {.board = "fuzz", .tick_hz = 1000000u};
const tk_platform_info_t *tk_platform_info(void) { return &fake_platform; }
int tk_platform_read_byte(void)
{
    if (rx_pos >= rx_size) return -1;
    tk_frame_t frame;
    if (tk_parser_feed(&rx_mirror, rx[rx_pos], &frame) != TK_PARSE_NEED_MORE) {
        CHECK(answer_seq < 0); /* the app answered the previous frame before reading on */
        answer_seq = frame.seq;
    }
    return rx[rx_pos++];
}
void tk_platform_idle(void) {}
uint32_t tk_platform_ticks(void) { return (uint32_t)rx_pos; }
uint32_t tk_platform_boot_id(void) { return 42u; }
uint32_t tk_platform_stack_used(void) { return 0; }
void tk_platform_reset(void) {}
void tk_platform_exit(int status) { (void)status; }

void tk_platform_write(const uint8_t *data, size_t n)
{
    /* One call = one frame: it must parse completely and validly, ending exactly at its last byte. */
    CHECK(n >= TK_PROTO_OVERHEAD && n <= TK_PROTO_MAX_FRAME);
    tk_frame_t frame;
    for (size_t i = 0; i < n; ++i) {
        tk_parse_status_t status = tk_parser_feed(&tx_checker, data[i], &frame);
        CHECK(status == (i + 1 == n ? TK_PARSE_FRAME : TK_PARSE_NEED_MORE));
    }
    CHECK(frame.type == TK_MSG_BOOT || (frame.type & TK_PROTO_REPLY) || frame.type == TK_MSG_ERROR);
    if (frame.type == TK_MSG_BOOT) {
        CHECK(frame.seq == 0 && frame.length == 4);
    } else { /* exactly one reply per received frame, with its seq */
        CHECK(answer_seq == frame.seq);
        answer_seq = -1;
    }
}

/* ---- part 1: the parser alone ---- */
static void check_parser(const uint8_t *data, size_t size)
{
    static tk_parser_t parser, again;
    static uint8_t encoded[TK_PROTO_MAX_FRAME];
    tk_parser_init(&parser);
    for (size_t i = 0; i < size; ++i) {
        tk_frame_t frame;
        tk_parse_status_t status = tk_parser_feed(&parser, data[i], &frame);
        CHECK(status <= TK_PARSE_LENGTH_ERROR);
        if (status != TK_PARSE_FRAME) continue;
        CHECK(frame.length <= TK_PROTO_MAX_PAYLOAD);
        CHECK(frame.payload >= parser.buf && frame.payload + frame.length <= parser.buf + sizeof parser.buf);
        size_t n = tk_frame_encode(encoded, sizeof encoded, frame.type, frame.seq, frame.payload, frame.length);
        CHECK(n == frame.length + TK_PROTO_OVERHEAD);
        CHECK(memcmp(&encoded[2], parser.buf, n - 2) == 0); /* same header, payload and CRC as received */
        tk_parser_init(&again);
        tk_frame_t copy;
        for (size_t k = 0; k < n; ++k) {
            CHECK(tk_parser_feed(&again, encoded[k], &copy) == (k + 1 == n ? TK_PARSE_FRAME : TK_PARSE_NEED_MORE));
        }
        CHECK(copy.type == frame.type && copy.seq == frame.seq && copy.length == frame.length);
        CHECK(memcmp(copy.payload, frame.payload, frame.length) == 0);
    }
}

/* ---- part 2: the app ---- */
static void check_app(const uint8_t *data, size_t size)
{
    rx = data;
    rx_size = size;
    rx_pos = 0;
    tk_parser_init(&tx_checker);
    tk_parser_init(&rx_mirror);
    answer_seq = -1;
    while (rx_pos < rx_size) { /* each pass ends at a RESET or BYE (then restarts, as a board) or the input's end */
        CHECK(tk_app_init() == 0);
        while (tk_app_step() == TK_APP_CONTINUE && rx_pos < rx_size) {
        }
        tk_parser_init(&rx_mirror); /* the restarted app's parser starts hunting for a sync pair again */
    }
    CHECK(answer_seq < 0); /* the last frame was answered too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parser(data, size);
    check_app(data, size);
    return 0;
}
