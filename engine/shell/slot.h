/* slot.h - the Redis Cluster slot of a key.
 *
 * As Redis Cluster computes it (its specification, "Keys distribution
 * model"): CRC16 (XMODEM: polynomial 0x1021, initial value 0, neither
 * input nor output reflected) of the key's hash tag, modulo 16384. The
 * hash tag is what lies between the first '{' and the first '}' after it,
 * when that is not empty; otherwise the whole key. A partition's keys
 * (<prefix>{p}:...) therefore share one slot.
 */
#ifndef LOYALTY_SLOT_H
#define LOYALTY_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384 /* Redis Cluster's, fixed */

/* CRC16/XMODEM of buf[0..len). */
uint16_t slot_crc16(const char *buf, size_t len);

/* The slot of key[0..len). */
uint16_t slot_of(const char *key, size_t len);

#endif
