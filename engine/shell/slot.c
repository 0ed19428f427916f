/* slot.c - see slot.h. Bit by bit: a key is hashed once per partition at
 * start-up and once per redirection, never per entry. */
#include "slot.h"

#include <string.h>

uint16_t slot_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close != NULL && close > open + 1)
            return slot_crc16(open + 1, (size_t)(close - open - 1)) % SLOT_COUNT;
    }
    return slot_crc16(key, len) % SLOT_COUNT;
}
