/* fuzz_decode.c - libFuzzer target for proto_decode.
 *
 * Built with -DLOYALTY_FUZZ=ON (tests/fuzz/CMakeLists.txt), run by ctest
 * for a while on the seeds in corpus/decode (one valid entry of each kind,
 * from gen_decode_seeds.c), or by hand:
 *   build-asan/tests/fuzz/fuzz_decode -max_len=9000 -runs=10000000 CORPUS_DIR
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
