/* Frame parser, encoder and CRC-32 of the tinykd serial protocol (see tk_protocol.h and PROTOCOL.md). */
#include "tk_protocol.h"

#include <string.h>

enum { HUNT_SYNC0 = 0, HUNT_SYNC1 = 1, IN_FRAME = 2 };

/* Nibble-wise table: 64 bytes of flash instead of 1 KiB, ~2x slower than a byte table; frames are small. */
static const uint32_t crc_nibble_table[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t tk_crc32(uint32_t crc, const uint8_t *data, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble_table[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble_table[crc & 0x0Fu];
    }
    return ~crc;
}

void tk_parser_init(tk_parser_t *parser)
{
    parser->state = HUNT_SYNC0;
    parser->pos = 0;
    parser->needed = 0;
}

static uint16_t read_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void fill_header(const tk_parser_t *parser, tk_frame_t *out)
{
    out->type = parser->buf[0];
    out->seq = parser->buf[1];
    out->length = read_u16(&parser->buf[2]);
    out->payload = &parser->buf[4];
}

tk_parse_status_t tk_parser_feed(tk_parser_t *parser, uint8_t byte, tk_frame_t *out)
{
    switch (parser->state) {
    case HUNT_SYNC0:
        if (byte == TK_PROTO_SYNC0) parser->state = HUNT_SYNC1;
        return TK_PARSE_NEED_MORE;
    case HUNT_SYNC1:
        if (byte == TK_PROTO_SYNC1) {
            parser->state = IN_FRAME;
            parser->pos = 0;
            parser->needed = 4; /* type, seq, length: the header tells the rest */
        } else if (byte != TK_PROTO_SYNC0) {
            parser->state = HUNT_SYNC0;
        }
        return TK_PARSE_NEED_MORE;
    default:
        break;
    }
    /* IN_FRAME: pos < needed <= sizeof buf always holds here. */
    if (parser->pos >= parser->needed || parser->needed > sizeof parser->buf) { /* unreachable; defensive */
        tk_parser_init(parser);
        return TK_PARSE_NEED_MORE;
    }
    parser->buf[parser->pos++] = byte;
    if (parser->pos == 4) {
        uint16_t length = read_u16(&parser->buf[2]);
        if (length > TK_PROTO_MAX_PAYLOAD) {
            fill_header(parser, out);
            out->length = 0;
            tk_parser_init(parser);
            return TK_PARSE_LENGTH_ERROR;
        }
        parser->needed = (uint16_t)(4u + length + TK_PROTO_CRC_BYTES);
        return TK_PARSE_NEED_MORE;
    }
    if (parser->pos < parser->needed) return TK_PARSE_NEED_MORE;

    uint16_t body = (uint16_t)(parser->needed - TK_PROTO_CRC_BYTES); /* type..payload */
    uint32_t expected = read_u32(&parser->buf[body]);
    fill_header(parser, out);
    parser->state = HUNT_SYNC0;
    if (tk_crc32(0, parser->buf, body) != expected) {
        out->length = 0;
        return TK_PARSE_CRC_ERROR;
    }
    return TK_PARSE_FRAME;
}

size_t tk_frame_encode(uint8_t *dst, size_t cap, uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t length)
{
    size_t total = (size_t)length + TK_PROTO_OVERHEAD;
    if (length > TK_PROTO_MAX_PAYLOAD || total > cap || (length > 0 && payload == NULL)) return 0;
    dst[0] = TK_PROTO_SYNC0;
    dst[1] = TK_PROTO_SYNC1;
    dst[2] = type;
    dst[3] = seq;
    dst[4] = (uint8_t)(length & 0xFFu);
    dst[5] = (uint8_t)(length >> 8);
    if (length > 0) memmove(&dst[TK_PROTO_HEADER_BYTES], payload, length);
    uint32_t crc = tk_crc32(0, &dst[2], 4u + (size_t)length);
    uint8_t *tail = &dst[TK_PROTO_HEADER_BYTES + length];
    tail[0] = (uint8_t)(crc & 0xFFu);
    tail[1] = (uint8_t)((crc >> 8) & 0xFFu);
    tail[2] = (uint8_t)((crc >> 16) & 0xFFu);
    tail[3] = (uint8_t)(crc >> 24);
    return total;
}
