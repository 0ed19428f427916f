/* snapfx.h - a snapshot round trip for the unit tests of the state's
 * layout (test_extras, test_ring): what a state writes, loaded into
 * another state, equals it member by member by value and writes the same
 * bytes back. Include after cmocka.h.
 */
#ifndef LOYALTY_TEST_SNAPFX_H
#define LOYALTY_TEST_SNAPFX_H

#include <stdlib.h>

#include "rulecanon.h"
#include "snapshot.h"
#include "state.h"

/* Encodes `st` and decodes it into `back`, a state_init'ed for `made_for`
 * and `members_max` (file rulebook `file_rb`); checks every member by
 * value and the bytes written back. `back` stays loaded (state_free it). */
static inline void snapfx_round_trip(const struct state *st, const struct rulebook *file_rb,
                                     const struct rulebook *made_for, uint32_t members_max,
                                     struct state *back)
{
    char *buf, *again;
    size_t len, len2;
    struct snapshot_error err = {{0}};
    assert_int_equal(snapshot_encode(st, rulecanon_codec(), &buf, &len), 0);
    assert_int_equal(state_init(back, made_for, members_max), 0);
    if (snapshot_decode(buf, len, file_rb, rulecanon_codec(), back, &err) != SNAPSHOT_OK)
        fail_msg("%s", err.text);
    assert_int_equal(back->members.count, st->members.count);
    for (uint32_t p = 0; p < back->members.count; p++)
        assert_true(members_same(&back->members, p, &st->members, p));
    assert_int_equal(snapshot_encode(back, rulecanon_codec(), &again, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    free(again);
    free(buf);
}

#endif
