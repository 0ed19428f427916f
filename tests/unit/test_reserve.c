/* test_reserve.c - the reservations under every store (reserve.h) and the
 * cache hints before applying (prefetch.h).
 *
 * A reservation of 2 MiB or more must start on a 2 MiB boundary and carry
 * the MADV_HUGEPAGE advice (the `hg` flag the kernel shows in
 * /proc/self/smaps), or a snapshot's fork copies 512 times the page-table
 * entries; a small one needs neither. A derived store (indexes, the
 * schedule) must stay out of a forked child (`dc`). Prefetch hints must
 * leave the state byte for byte as applying without them does.
 */
#include "rulesfx.h"

#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prefetch.h"
#include "reserve.h"

#define HUGE_BYTES ((size_t)2 << 20)
#define SMAPS_LINE_MAX 512 /* a VmFlags line is under 100 bytes */

/* The VmFlags line of the mapping that holds `p`, into `flags`. */
static bool vm_flags_of(const void *p, char *flags, size_t cap)
{
    char line[SMAPS_LINE_MAX];
    unsigned long lo, hi, at = (unsigned long)(uintptr_t)p;
    bool in = false, found = false;
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's header */
            in = lo <= at && at < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0)
            found = snprintf(flags, cap, "%s", line) > 0;
    }
    fclose(f);
    return found;
}

static void large_reservation_is_huge_page_aligned_and_advised(void **state)
{
    (void)state;
    size_t n = 3 * HUGE_BYTES + 1;
    unsigned char *p = reserve_zeroed(n, 1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % HUGE_BYTES, 0);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[n - 1], 0);
    p[n - 1] = 7; /* all of it is writable */
    char flags[SMAPS_LINE_MAX];
    assert_true(vm_flags_of(p, flags, sizeof(flags)));
    assert_non_null(strstr(flags, " hg"));
    reserve_discard(p, n, 1);
    assert_int_equal(p[n - 1], 0); /* discarded pages read as zeros */
    reserve_release(p, n, 1);
}

static void small_reservation_is_plain_and_zeroed(void **state)
{
    (void)state;
    uint64_t *p = reserve_zeroed(100, sizeof(uint64_t));
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    p[99] = 1;
    reserve_release(p, 100, sizeof(uint64_t));
    assert_null(reserve_zeroed(SIZE_MAX, 2)); /* the product overflows */
}

/* Indexes and the schedule are derived: a snapshot writer (a forked child)
 * never reads them, so fork() must not hand them over. */
static void derived_reservation_is_not_inherited_by_fork(void **state)
{
    (void)state;
    size_t n = HUGE_BYTES;
    unsigned char *p = reserve_derived(n, 2);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % HUGE_BYTES, 0);
    p[0] = 1;
    char flags[SMAPS_LINE_MAX];
    assert_true(vm_flags_of(p, flags, sizeof(flags)));
    assert_non_null(strstr(flags, " dc")); /* VM_DONTCOPY */
    assert_non_null(strstr(flags, " hg"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(vm_flags_of(p, flags, sizeof(flags)) ? 1 : 0); /* mapped there: wrong */
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(p[0], 1); /* the parent keeps it */
    reserve_release(p, n, 2);
}

/* Applies enrolments and purchases of `members` members, hinting each
 * entry's member first when `hint`. */
static void feed(struct fx *f, bool hint, int members)
{
    char id[16], txn[16];
    for (int i = 0; i < members; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        snprintf(txn, sizeof(txn), "e%d", i);
        enroll(f, at(2026, 1, 1) + i, txn, id);
        if (hint)
            prefetch_slot(&f->st, &f->e), prefetch_member(&f->st, &f->e);
        applied(f);
    }
    for (int i = 0; i < 3 * members; i++) {
        snprintf(id, sizeof(id), "m%d", (i * 7) % (members + 1)); /* one unknown */
        snprintf(txn, sizeof(txn), "p%d", i);
        purchase(f, at(2026, 2, 1) + i * DAY / 8, txn, id, 1000 + i);
        if (hint)
            prefetch_slot(&f->st, &f->e), prefetch_member(&f->st, &f->e);
        apply(f);
    }
}

static void prefetch_hints_change_nothing(void **state)
{
    (void)state;
    struct fx *plain = fx_new(), *hinted = fx_new();
    struct frozen z;
    feed(plain, false, 50);
    feed(hinted, true, 50);
    freeze(plain, &z);
    expect_as_frozen(hinted, &z);
    assert_int_equal(plain->st.entries_applied, hinted->st.entries_applied);
    assert_int_equal(plain->st.entries_rejected, hinted->st.entries_rejected);
    fx_free(plain);
    fx_free(hinted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(large_reservation_is_huge_page_aligned_and_advised),
        cmocka_unit_test(small_reservation_is_plain_and_zeroed),
        cmocka_unit_test(derived_reservation_is_not_inherited_by_fork),
        cmocka_unit_test(prefetch_hints_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
