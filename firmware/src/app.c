/* The device side of the tinykd protocol: one request in, one reply out (PROTOCOL.md has the payloads). */
#include "app.h"

#include <string.h>

#include "engine.h"
#include "platform.h"
#include "tk_protocol.h"

typedef struct {
    uint32_t frames_ok;     /* requests with a valid CRC */
    uint32_t crc_errors;    /* frames dropped for a bad CRC */
    uint32_t length_errors; /* headers announcing more than TK_PROTO_MAX_PAYLOAD */
    uint32_t errors_sent;   /* ERROR replies */
    uint32_t inferences;    /* successful INFER requests */
    uint32_t last_ticks;    /* ticks of the last inference */
} tk_counters_t;

static tk_parser_t parser;
static tk_counters_t counters;
static uint8_t tx[TK_PROTO_MAX_FRAME];
static uint8_t *const reply = &tx[TK_PROTO_HEADER_BYTES]; /* payloads are built in place */

/* Bounded little-endian writer over `reply`. */
typedef struct {
    uint16_t n;
} writer_t;

static void put(writer_t *w, const void *data, size_t n)
{
    if (w->n + n > TK_PROTO_MAX_PAYLOAD) return; /* cannot happen for the fixed payloads below */
    memcpy(&reply[w->n], data, n);
    w->n = (uint16_t)(w->n + n);
}
static void put_u8(writer_t *w, uint8_t v) { put(w, &v, 1); }
static void put_u16(writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}
static void put_u32(writer_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}
static void put_f32(writer_t *w, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u32(w, bits);
}
static void put_str(writer_t *w, const char *s)
{
    size_t n = strlen(s);
    if (n > 255) n = 255;
    put_u8(w, (uint8_t)n);
    put(w, s, n);
}
static void put_tensor(writer_t *w, const tk_tensor_info_t *t)
{
    put_u8(w, t->rank);
    for (uint8_t i = 0; i < t->rank; ++i) put_u16(w, t->dims[i]);
    put_u32(w, t->bytes);
    put_f32(w, t->scale);
    put_u32(w, (uint32_t)t->zero_point);
}

static void send(uint8_t type, uint8_t seq, uint16_t length)
{
    size_t n = tk_frame_encode(tx, sizeof tx, type, seq, reply, length);
    tk_platform_write(tx, n);
}

static void send_error(uint8_t seq, uint8_t request, tk_error_code_t code, const char *message)
{
    writer_t w = {0};
    put_u8(&w, (uint8_t)code);
    put_u8(&w, request);
    put_str(&w, message);
    counters.errors_sent++;
    send(TK_MSG_ERROR, seq, w.n);
}

static uint8_t hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return (uint8_t)(c - '0');
    if (c >= 'a' && c <= 'f') return (uint8_t)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (uint8_t)(c - 'A' + 10);
    return 0;
}

static void hello(uint8_t seq)
{
    const tk_engine_info_t *e = tk_engine_info();
    const tk_platform_info_t *p = tk_platform_info();
    writer_t w = {0};
    put_u8(&w, TK_PROTO_VERSION);
    put_u8(&w, 0); /* flags, reserved */
    put_u16(&w, TK_PROTO_MAX_PAYLOAD);
    put_u32(&w, tk_platform_boot_id());
    put_u32(&w, p->tick_hz);
    for (int i = 0; i < 8; ++i) { /* model SHA-256 prefix: 8 bytes = 16 hex digits */
        put_u8(&w, (uint8_t)((hex_nibble(e->model_sha256[2 * i]) << 4) | hex_nibble(e->model_sha256[2 * i + 1])));
    }
    put_str(&w, e->name);
    put_str(&w, p->board);
    put_tensor(&w, &e->input);
    put_tensor(&w, &e->output);
    put_u32(&w, e->arena_bytes);
    put_u32(&w, e->weight_bytes);
    put_u32(&w, p->flash_bytes);
    put_u32(&w, p->ram_bytes);
    put_u32(&w, p->stack_bytes);
    send(TK_MSG_HELLO | TK_PROTO_REPLY, seq, w.n);
}

static void infer(const tk_frame_t *f)
{
    const tk_engine_info_t *e = tk_engine_info();
    if (f->length != e->input.bytes) {
        send_error(f->seq, f->type, TK_ERR_BAD_LENGTH, "INFER payload must be the model's input bytes");
        return;
    }
    /* reply: u32 ticks, u32 crc32(input), int8 output[output.bytes] */
    int8_t *output = (int8_t *)&reply[8];
    uint32_t start = tk_platform_ticks();
    int status = tk_engine_invoke((const int8_t *)f->payload, output);
    uint32_t ticks = tk_platform_ticks() - start;
    if (status != 0) {
        send_error(f->seq, f->type, TK_ERR_ENGINE_FAILED, "the engine returned an error");
        return;
    }
    counters.inferences++;
    counters.last_ticks = ticks;
    writer_t w = {0};
    put_u32(&w, ticks);
    put_u32(&w, tk_crc32(0, f->payload, f->length));
    send(TK_MSG_INFER | TK_PROTO_REPLY, f->seq, (uint16_t)(w.n + e->output.bytes));
}

static void stats(uint8_t seq)
{
    writer_t w = {0};
    put_u32(&w, counters.frames_ok);
    put_u32(&w, counters.crc_errors);
    put_u32(&w, counters.length_errors);
    put_u32(&w, counters.errors_sent);
    put_u32(&w, counters.inferences);
    put_u32(&w, counters.last_ticks);
    put_u32(&w, tk_platform_stack_used());
    put_u32(&w, tk_platform_ticks());
    send(TK_MSG_STATS | TK_PROTO_REPLY, seq, w.n);
}

static tk_app_action_t handle(const tk_frame_t *f)
{
    writer_t w = {0};
    counters.frames_ok++;
    switch (f->type) {
    case TK_MSG_HELLO:
        hello(f->seq);
        return TK_APP_CONTINUE;
    case TK_MSG_INFER:
        infer(f);
        return TK_APP_CONTINUE;
    case TK_MSG_STATS:
        stats(f->seq);
        return TK_APP_CONTINUE;
    case TK_MSG_PING:
        if (f->length > 16) {
            send_error(f->seq, f->type, TK_ERR_BAD_LENGTH, "PING carries at most 16 bytes");
            return TK_APP_CONTINUE;
        }
        put_u32(&w, tk_platform_boot_id());
        put(&w, f->payload, f->length);
        send(TK_MSG_PING | TK_PROTO_REPLY, f->seq, w.n);
        return TK_APP_CONTINUE;
    case TK_MSG_RESET:
        send(TK_MSG_RESET | TK_PROTO_REPLY, f->seq, 0);
        return TK_APP_RESET;
    case TK_MSG_BYE:
        send(TK_MSG_BYE | TK_PROTO_REPLY, f->seq, 0);
        return TK_APP_EXIT;
    default:
        send_error(f->seq, f->type, TK_ERR_UNKNOWN_TYPE, "unknown request type");
        return TK_APP_CONTINUE;
    }
}

int tk_app_init(void)
{
    tk_parser_init(&parser);
    memset(&counters, 0, sizeof counters);
    int status = tk_engine_init();
    writer_t w = {0};
    put_u32(&w, tk_platform_boot_id());
    send(TK_MSG_BOOT, 0, w.n);
    return status;
}

tk_app_action_t tk_app_step(void)
{
    tk_frame_t frame;
    for (;;) {
        int byte = tk_platform_read_byte();
        if (byte < 0) {
            tk_platform_idle();
            return TK_APP_CONTINUE;
        }
        switch (tk_parser_feed(&parser, (uint8_t)byte, &frame)) {
        case TK_PARSE_FRAME:
            return handle(&frame);
        case TK_PARSE_CRC_ERROR:
            counters.crc_errors++;
            send_error(frame.seq, frame.type, TK_ERR_CRC, "CRC mismatch: frame dropped");
            return TK_APP_CONTINUE;
        case TK_PARSE_LENGTH_ERROR:
            counters.length_errors++;
            send_error(frame.seq, frame.type, TK_ERR_TOO_LONG, "payload longer than the maximum");
            return TK_APP_CONTINUE;
        default:
            break;
        }
    }
}
