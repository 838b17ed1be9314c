/* tinykd serial protocol: frame layout, message types and a byte-at-a-time parser.
 *
 * Frame (all multi-byte fields little-endian), see firmware/PROTOCOL.md:
 *   offset 0  u8[2] sync   0xA5 0x5A
 *          2  u8    type   request type, or request type | 0x80 for its reply
 *          3  u8    seq    chosen by the host, echoed by the device
 *          4  u16   length payload bytes, 0..TK_PROTO_MAX_PAYLOAD
 *          6  u8[length] payload
 *   6+length  u32   CRC-32 (IEEE 802.3, as zlib.crc32) of bytes 2 .. 6+length-1
 *
 * The parser is a pure state machine (no I/O, no globals, no malloc): it can be fed any byte sequence and never
 * writes outside its own buffer. It is the libFuzzer target's entry point.
 */
#ifndef TK_PROTOCOL_H
#define TK_PROTOCOL_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#define TK_PROTO_VERSION 2u
#define TK_PROTO_SYNC0 0xA5u
#define TK_PROTO_SYNC1 0x5Au
#ifndef TK_PROTO_MAX_PAYLOAD
#define TK_PROTO_MAX_PAYLOAD 2048u /* reported in HELLO; the host never sends more */
#endif
#define TK_PROTO_HEADER_BYTES 6u
#define TK_PROTO_CRC_BYTES 4u
#define TK_PROTO_OVERHEAD (TK_PROTO_HEADER_BYTES + TK_PROTO_CRC_BYTES)
#define TK_PROTO_MAX_FRAME (TK_PROTO_MAX_PAYLOAD + TK_PROTO_OVERHEAD)
#define TK_PROTO_REPLY 0x80u         /* a reply's type is its request's type | TK_PROTO_REPLY */
#define TK_PROTO_FLAG_FRONTEND 0x01u /* HELLO flags: the firmware runs the audio front end (answers AUDIO) */

/* Message types (host -> device requests; the device answers each with type | 0x80 or TK_MSG_ERROR). */
typedef enum {
    TK_MSG_HELLO = 0x01, /* empty -> device, model and budget description */
    TK_MSG_INFER = 0x02, /* int8 input tensor -> elapsed ticks, CRC of the input, int8 output tensor */
    TK_MSG_STATS = 0x03, /* empty -> counters */
    TK_MSG_RESET = 0x04, /* empty -> ack, then the device resets (and sends TK_MSG_BOOT) */
    TK_MSG_PING = 0x05,  /* up to 16 bytes -> boot id + the same bytes (resynchronisation) */
    TK_MSG_BYE = 0x06,   /* empty -> ack, then an emulator exits with status 0; a board just acks */
    TK_MSG_AUDIO = 0x07, /* u16 offset + int16 samples of a clip -> samples held; the last chunk -> features + output */
    TK_MSG_BOOT = 0x7E,  /* unsolicited, seq 0, sent once at start-up: boot id */
    TK_MSG_ERROR = 0x7F  /* reply to a request that failed: code, request type, message */
} tk_msg_type_t;

typedef enum {
    TK_ERR_UNKNOWN_TYPE = 1,  /* the request type is not one of tk_msg_type_t */
    TK_ERR_BAD_LENGTH = 2,    /* the payload length is wrong for this request type */
    TK_ERR_ENGINE_FAILED = 3, /* the engine returned a non-zero status */
    TK_ERR_CRC = 4,           /* a frame arrived whose CRC did not match */
    TK_ERR_TOO_LONG = 5       /* a header announced more than TK_PROTO_MAX_PAYLOAD bytes */
} tk_error_code_t;

typedef enum {
    TK_PARSE_NEED_MORE = 0,   /* no complete frame yet */
    TK_PARSE_FRAME = 1,       /* *out holds a frame whose CRC matched */
    TK_PARSE_CRC_ERROR = 2,   /* a frame ended but its CRC did not match; *out holds its (untrusted) header */
    TK_PARSE_LENGTH_ERROR = 3 /* a header announced too long a payload; *out holds its (untrusted) header */
} tk_parse_status_t;

/* One decoded frame; `payload` points into the parser's buffer and is valid until the next tk_parser_feed. */
typedef struct {
    uint8_t type;           /* tk_msg_type_t, | TK_PROTO_REPLY for replies */
    uint8_t seq;            /* sequence number */
    uint16_t length;        /* payload bytes */
    const uint8_t *payload; /* `length` bytes */
} tk_frame_t;

typedef struct {
    uint8_t state;                                             /* private: which field comes next */
    uint16_t pos;                                              /* private: bytes of the frame held in buf */
    uint16_t needed;                                           /* private: frame bytes expected in total */
    uint8_t buf[TK_PROTO_MAX_PAYLOAD + TK_PROTO_OVERHEAD - 2]; /* private: type..crc (no sync bytes) */
} tk_parser_t;

/* CRC-32 (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF): `crc` is 0 for a fresh run, or the
 * result of a previous call to continue over more data (equals zlib.crc32(data, crc)). */
uint32_t tk_crc32(uint32_t crc, const uint8_t *data, size_t n);

void tk_parser_init(tk_parser_t *parser);

/* Feed one byte. Returns TK_PARSE_FRAME when it completed a valid frame (then *out is filled). */
tk_parse_status_t tk_parser_feed(tk_parser_t *parser, uint8_t byte, tk_frame_t *out);

/* Encode one frame into dst (capacity `cap`). Returns the frame's size, or 0 if `length` exceeds
 * TK_PROTO_MAX_PAYLOAD or the frame does not fit in `cap`. `payload` may be NULL when `length` is 0. */
size_t tk_frame_encode(uint8_t *dst, size_t cap, uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length);

#ifdef __cplusplus
}
#endif

#endif /* TK_PROTOCOL_H */
