/* fuzz_decode.c - libFuzzer target for proto_decode.
 *
 * Build and run from the repository root (not wired into CMake yet):
 *   clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -Iproto tests/fuzz/fuzz_decode.c proto/proto_decode.c proto/proto_encode.c \
 *     proto/proto_id.c $(pkg-config --cflags --libs msgpack) -o /tmp/fuzz_decode
 *   mkdir -p /tmp/fuzz_corpus
 *   /tmp/fuzz_decode -max_len=9000 -max_total_time=60 /tmp/fuzz_corpus \
 *     tests/fuzz/corpus/decode
 * New inputs go to the first directory; the seeds in tests/fuzz/corpus/decode
 * (one valid entry of each kind) come from gen_decode_seeds.c.
 *
 * Beyond "never crashes, leaks or reads out of bounds", it checks that a
 * rejection has a code and a printable detail (no raw input bytes), and that
 * an accepted entry encodes again and decodes to the same entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rejection(const struct proto_reject *rej)
{
    if (rej->code == NULL || rej->detail[0] == '\0')
        abort();
    for (size_t i = 0; i < sizeof rej->detail && rej->detail[i] != '\0'; i++)
        if (rej->detail[i] < 0x20 || rej->detail[i] > 0x7e)
            abort();
    if (memchr(rej->detail, '\0', sizeof rej->detail) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Static: an entry is ~6 KiB, and both are fully overwritten. */
    static struct proto_entry entry;
    static struct proto_entry again;
    struct proto_reject rej;
    if (proto_decode((const char *)data, size, &entry, &rej) != 0) {
        check_rejection(&rej);
        return 0;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (proto_encode_entry(&sb, &entry) != 0 ||
        proto_decode(sb.data, sb.size, &again, &rej) != 0 ||
        memcmp(&entry, &again, sizeof entry) != 0)
        abort();
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
