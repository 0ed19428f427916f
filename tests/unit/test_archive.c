/* test_archive.c - the input archive: what is appended and committed reads
 * back exactly, across reopenings and segments; a crash's uncommitted tail
 * is cut; damage and gaps are detected and named; retention deletes whole
 * old segments only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "archread.h"

#define HASH_A "0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210"
#define STARTUP_TEXT "earning = { points_per_unit = 1; };\n"
#define RULES_TEXT "earning = { points_per_unit = 2; };\n"

struct fixture {
    char dir[64];
    char notes[8][ARCH_ERROR_MAX];
    int note_count;
};

static void take_note(void *arg, const char *text)
{
    struct fixture *f = arg;
    if (f->note_count < 8)
        snprintf(f->notes[f->note_count++], ARCH_ERROR_MAX, "%s", text);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_archive.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    strcat(f->dir, "/archive"); /* created by archive_open */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(f->dir) - strlen("/archive")), f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct archive *open_ok(struct fixture *f)
{
    struct arch_error err;
    struct archive *a = archive_open(f->dir, HASH_A, STARTUP_TEXT, take_note, f, &err);
    if (a == NULL)
        fail_msg("archive_open: %s", err.text);
    return a;
}

/* The `m` bytes of entry k: different lengths and contents. */
static size_t entry_bytes(uint64_t k, char *buf)
{
    return (size_t)snprintf(buf, 64, "entry-%llu-%.*s", (unsigned long long)k, (int)(k % 20),
                            "xxxxxxxxxxxxxxxxxxxxxxxx");
}

static struct proto_id id_of(uint64_t k)
{
    return (struct proto_id){1700000000000ull + k, 0};
}

/* Appends entries k in [from, to), entry 7 of each hundred without `m`. */
static void append_range(struct archive *a, uint64_t from, uint64_t to)
{
    struct arch_error err;
    char buf[64];
    for (uint64_t k = from; k < to; k++) {
        size_t n = entry_bytes(k, buf);
        assert_int_equal(archive_append(a, id_of(k), buf, n, k % 100 != 7, &err), 0);
    }
}

/* What a read of the archive saw. */
struct seen {
    uint64_t next;      /* the k expected next */
    uint64_t texts, startups, segments;
    char last_text[ARCH_HASH_LEN + 1];
    struct proto_id rules_id; /* the rules entry expected (0-0: none) */
    int rules_seen;
};

static int check_record(void *arg, const struct archread_record *r)
{
    struct seen *s = arg;
    char buf[64];
    if (r->type == ARCH_R_STARTUP) {
        s->startups++;
        assert_string_equal(r->hash, HASH_A);
        assert_int_equal(r->len, strlen(STARTUP_TEXT));
        return 0;
    }
    if (r->type == ARCH_R_TEXT) {
        s->texts++;
        memcpy(s->last_text, r->hash, sizeof(s->last_text));
        assert_memory_equal(r->data, RULES_TEXT, strlen(RULES_TEXT));
        return 0;
    }
    if (s->rules_id.ms != 0 && proto_id_cmp(r->id, s->rules_id) == 0) {
        assert_string_equal(s->last_text, HASH_B); /* its text came first, in its segment */
        s->rules_seen++;
        return 0;
    }
    assert_int_equal(r->id.ms, id_of(s->next).ms);
    assert_int_equal(r->id.seq, id_of(s->next).seq);
    size_t n = entry_bytes(s->next, buf);
    if (s->next % 100 == 7) {
        assert_int_equal(r->type, ARCH_R_NO_M);
    } else {
        assert_int_equal(r->type, ARCH_R_ENTRY);
        assert_int_equal(r->len, n);
        assert_memory_equal(r->data, buf, n);
    }
    s->next++;
    return 0;
}

static int read_all(struct fixture *f, struct seen *s, struct archread_summary *sum,
                    struct arch_error *err)
{
    struct archread *r = archread_new();
    assert_non_null(r);
    int rc = archread_dir(r, f->dir, check_record, s, NULL, sum, err);
    archread_free(r);
    return rc;
}

static void appended_entries_read_back_in_order_across_reopening(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    struct archive *a = open_ok(f);
    append_range(a, 0, 30000); /* several blocks */
    assert_int_equal(archive_commit(a, &err), 0);
    archive_close(a);
    a = open_ok(f);
    assert_int_equal(archive_last(a).ms, id_of(29999).ms);
    assert_int_equal(archive_last(a).seq, id_of(29999).seq);
    append_range(a, 30000, 31000);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_close(a);
    struct seen s = {0};
    assert_int_equal(read_all(f, &s, &sum, &err), 0);
    assert_int_equal(s.next, 31000);
    assert_int_equal(sum.entries, 31000);
    assert_int_equal(sum.segments, 1);
    assert_int_equal(s.startups, 1);
    assert_int_equal(sum.prev.ms, 0); /* from the very start */
    assert_string_equal(sum.startup_hash, HASH_A);
    assert_true(sum.bytes < sum.raw_bytes); /* compressed */
    assert_int_equal(f->note_count, 0);
}

/* Every commit a segment of its own: each starts with the start-up text,
 * a rules entry's text is in its own segment, the chain reads whole. */
static void segments_are_self_contained_and_chained(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    struct archive *a = open_ok(f);
    archive_set_segment_bytes(a, 1);
    struct proto_id rules_id = {0, 0};
    for (uint64_t c = 0; c < 5; c++) {
        append_range(a, c * 100, c * 100 + 100);
        if (c == 3) {
            rules_id = (struct proto_id){id_of(c * 100 + 99).ms, 1};
            assert_int_equal(archive_append_rules(a, rules_id, "r", 1, HASH_B, RULES_TEXT,
                                                  strlen(RULES_TEXT), &err), 0);
        }
        assert_int_equal(archive_commit(a, &err), 0);
    }
    archive_close(a);
    struct seen s = {.rules_id = rules_id};
    assert_int_equal(read_all(f, &s, &sum, &err), 0);
    assert_int_equal(sum.segments, 5);
    assert_int_equal(s.startups, 5);
    assert_int_equal(s.texts, 1);
    assert_int_equal(s.rules_seen, 1);
    assert_int_equal(s.next, 500);
}

static void write_file(const char *path, const char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    assert_true(n > 0);
    close(fd);
    return (size_t)n;
}

/* A crash after blocks were written but before HEAD moved: reopening cuts
 * what HEAD does not cover (it was never relied upon), and appending goes
 * on from the last committed entry. */
static void uncommitted_tail_is_cut_at_open(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    char head[ARCH_PATH_MAX], saved[512];
    struct archive *a = open_ok(f);
    append_range(a, 0, 1000);
    assert_int_equal(archive_commit(a, &err), 0);
    snprintf(head, sizeof(head), "%s/HEAD", f->dir);
    size_t n = read_file(head, saved, sizeof(saved));
    append_range(a, 1000, 2000);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_close(a);
    write_file(head, saved, n); /* as if the crash came before HEAD's rename */
    a = open_ok(f);
    assert_int_equal(f->note_count, 1);
    assert_non_null(strstr(f->notes[0], "uncommitted"));
    assert_int_equal(archive_last(a).ms, id_of(999).ms);
    append_range(a, 1000, 1500);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_close(a);
    struct seen s = {0};
    assert_int_equal(read_all(f, &s, &sum, &err), 0);
    assert_int_equal(s.next, 1500);
}

/* Makes five one-commit segments and returns their names. */
static void five_segments(struct fixture *f, char names[5][ARCH_SEG_NAME_LEN + 1])
{
    struct arch_error err;
    struct archive *a = open_ok(f);
    archive_set_segment_bytes(a, 1);
    for (uint64_t c = 0; c < 5; c++) {
        append_range(a, c * 1000, c * 1000 + 1000);
        assert_int_equal(archive_commit(a, &err), 0);
        archfmt_seg_name(id_of(c * 1000), names[c]);
    }
    archive_close(a);
}

static void flip_byte(const char *dir, const char *name, long off_from_end)
{
    char path[ARCH_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t at = lseek(fd, -off_from_end, SEEK_END);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void damaged_segment_is_detected_and_named(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    char names[5][ARCH_SEG_NAME_LEN + 1];
    five_segments(f, names);
    flip_byte(f->dir, names[2], 10); /* inside the compressed payload */
    struct seen s = {0};
    assert_int_equal(read_all(f, &s, &sum, &err), -1);
    assert_non_null(strstr(err.text, names[2]));
    assert_non_null(strstr(err.text, "checksum mismatch"));
    /* The writer opens (the damage is not in HEAD's segment, which it
     * checks): appending goes on; readers keep naming the damaged one. */
    archive_close(open_ok(f));
    flip_byte(f->dir, names[4], 10);
    assert_null(archive_open(f->dir, HASH_A, STARTUP_TEXT, take_note, f, &err));
    assert_non_null(strstr(err.text, names[4]));
}

static void missing_segment_is_detected_and_named(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    char names[5][ARCH_SEG_NAME_LEN + 1], path[ARCH_PATH_MAX];
    five_segments(f, names);
    snprintf(path, sizeof(path), "%s/%s", f->dir, names[2]);
    assert_int_equal(unlink(path), 0);
    struct seen s = {0};
    assert_int_equal(read_all(f, &s, &sum, &err), -1);
    assert_non_null(strstr(err.text, names[3]));
    assert_non_null(strstr(err.text, "missing"));
}

static void segments_without_head_are_refused(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    char names[5][ARCH_SEG_NAME_LEN + 1], path[ARCH_PATH_MAX];
    five_segments(f, names);
    snprintf(path, sizeof(path), "%s/HEAD", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_null(archive_open(f->dir, HASH_A, STARTUP_TEXT, take_note, f, &err));
    assert_non_null(strstr(err.text, "no HEAD"));
}

/* Retention deletes the oldest whole segments, never HEAD's; what stays
 * still reads as a chain, starting after the deleted entries. */
static void retention_deletes_oldest_segments_only(void **state)
{
    struct fixture *f = *state;
    struct arch_error err;
    struct archread_summary sum;
    char names[5][ARCH_SEG_NAME_LEN + 1];
    five_segments(f, names);
    struct archive *a = open_ok(f);
    struct archive_stats st;
    archive_get_stats(a, &st);
    assert_int_equal(st.segments, 5);
    /* By size: keep about two segments' worth. */
    uint64_t per = st.bytes / 5;
    assert_int_equal(archive_prune(a, 0, 0, 2 * per + per / 2, &err), 3);
    archive_get_stats(a, &st);
    assert_int_equal(st.segments, 2);
    /* By age: entries are from 2023; a year's retention today keeps HEAD's. */
    assert_int_equal(archive_prune(a, 1800000000000ull, 365, 0, &err), 1);
    assert_int_equal(archive_prune(a, 1800000000000ull, 365, 0, &err), 0);
    archive_close(a);
    struct seen s = {.next = 4000};
    assert_int_equal(read_all(f, &s, &sum, &err), 0);
    assert_int_equal(sum.segments, 1);
    assert_int_equal(sum.prev.ms, id_of(3999).ms); /* no longer from the start */
    assert_int_equal(s.next, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(appended_entries_read_back_in_order_across_reopening,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(segments_are_self_contained_and_chained, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(uncommitted_tail_is_cut_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_segment_is_detected_and_named, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_segment_is_detected_and_named, setup, teardown),
        cmocka_unit_test_setup_teardown(segments_without_head_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_deletes_oldest_segments_only, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
