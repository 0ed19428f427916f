/* test_snapdir.c - the snapshot directory: listing, order, the lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapdir.h"

static void quiet(enum snapdir_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static void touch(const struct snapdir *sd, uint64_t ms)
{
    char path[SNAPDIR_PATH_MAX];
    snapdir_path(sd, (struct proto_id){ms, 0}, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
}

/* More snapshot files than one listing holds, created newest first so the
 * directory does not hand them out in id order: the listing keeps the
 * newest SNAPDIR_FILES_MAX, sorted, whatever readdir's order. */
static void listing_past_its_limit_keeps_the_newest_snapshots(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_snapdir.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct snapdir sd;
    struct snapshot_error err;
    assert_int_equal(snapdir_open(&sd, dir, 3, quiet, &err), 0);
    const uint64_t files = SNAPDIR_FILES_MAX + 200;
    for (uint64_t k = files; k >= 1; k--)
        touch(&sd, k * 1000 + (k * 7919) % 1000); /* ids unique, ascending in k */
    static struct proto_id ids[SNAPDIR_FILES_MAX];
    int n = snapdir_list(&sd, ids, SNAPDIR_FILES_MAX);
    assert_int_equal(n, SNAPDIR_FILES_MAX);
    for (int i = 0; i < n; i++) {
        uint64_t k = files - SNAPDIR_FILES_MAX + 1 + (uint64_t)i; /* the newest, in order */
        assert_int_equal(ids[i].ms, k * 1000 + (k * 7919) % 1000);
    }
    /* Pruning to `keep` leaves exactly the three newest. */
    struct proto_id oldest;
    assert_int_equal(snapdir_prune(&sd, &oldest), 0);
    assert_int_equal(snapdir_list(&sd, ids, SNAPDIR_FILES_MAX), 3);
    assert_int_equal(ids[2].ms, files * 1000 + (files * 7919) % 1000);
    assert_int_equal(oldest.ms, ids[0].ms);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    snapdir_close(&sd);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listing_past_its_limit_keeps_the_newest_snapshots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
