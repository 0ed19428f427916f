/* part.c - see part.h. */
#include "part.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rulecanon.h"

/* A snapshot needs the state to equal what Redis holds: when one is due,
 * reading holds until no batch is in flight. */
static bool on_committed(void *arg, bool idle)
{
    struct part *pt = arg;
    if (pt->snapper == NULL || !snapper_due(pt->snapper))
        return false;
    if (!idle)
        return true;
    snapper_maybe(pt->snapper);
    return false;
}

/* The trim below the oldest snapshot kept: with the input archive, only
 * once the archiver has everything before it (archived first, then the
 * fenced trim). */
static void on_snapshot_written(void *arg, struct proto_id oldest_kept)
{
    struct part *pt = arg;
    if (pt->archiver == NULL)
        consumer_trim(pt->consumer, oldest_kept);
    else
        archiver_trim(pt->archiver, oldest_kept);
}

static void on_archived(void *arg, struct proto_id min_id)
{
    struct part *pt = arg;
    consumer_trim(pt->consumer, min_id);
}

static void on_landed(void *arg, const struct batch *b)
{
    struct part *pt = arg;
    if (pt->dlq != NULL)
        dlqring_add_batch(pt->dlq, b);
    if (pt->relay != NULL && b->relay_count > 0)
        xrelay_kick(pt->relay, pt->p); /* credits committed: carry them */
}

/* Initialises the partition's state: empty, the file's rulebook as its
 * start-up version. Returns 0, or -1 when out of memory. */
static int init_state(struct part *pt)
{
    const struct state_limits lim = {pt->cfg->members_max, pt->cfg->expiry_months_max, pt->p,
                                     pt->cfg->partitions};
    return state_init_limits(&pt->st, &pt->cfg->rules, &lim);
}

/* Loads the newest usable snapshot not after `not_after` into the state
 * (none: it stays empty). Returns 0, or -1 when out of memory. */
static int load_newest(struct part *pt, struct proto_id not_after)
{
    const struct state_limits lim = {pt->cfg->members_max, pt->cfg->expiry_months_max, pt->p,
                                     pt->cfg->partitions};
    return snapdir_load(&pt->sd, &pt->cfg->rules, rulecanon_codec(), &lim, not_after,
                        &pt->st) < 0 ? -1 : 0;
}

/* Replaces the state with the newest snapshot not after `not_after`, or
 * with an empty state when there is none (then the whole stream is
 * replayed, if Redis still has it: the consumer checks). */
static int reload(void *arg, struct proto_id not_after)
{
    struct part *pt = arg;
    if (pt->snapper != NULL)
        snapper_reset(pt->snapper); /* first: a writer of the old state must not land */
    if (pt->dlq != NULL)
        dlqring_clear(pt->dlq); /* its rejections will be committed again */
    state_free(&pt->st);
    if (init_state(pt) != 0)
        return -1;
    if (pt->snapper == NULL)
        return 0;
    if (load_newest(pt, not_after) != 0)
        return -1;
    snapdir_discard_after(&pt->sd, not_after);
    snapper_reset(pt->snapper);
    return 0;
}

/* The partition's data directory. One partition: the data dir itself, as
 * before partitions existed. */
static void part_dir(const struct part *pt, char *dir, size_t cap)
{
    if (pt->cfg->partitions == 1)
        snprintf(dir, cap, "%s", pt->cfg->data_dir);
    else
        snprintf(dir, cap, "%s/p%u", pt->cfg->data_dir, pt->p);
}

/* The input archive of the partition (DIR/archive), when the input is
 * trimmed and archived. Returns 0, or -1 after logging why. */
static int open_archiver(struct part *pt, struct event_base *base, struct metrics *m)
{
    char dir[CONFIG_PATH_MAX + 32], prefix[CONFIG_KEY_MAX + 16];
    if (!pt->cfg->trim_input || !pt->cfg->archive)
        return 0;
    part_dir(pt, dir, sizeof(dir));
    strncat(dir, "/archive", sizeof(dir) - strlen(dir) - 1);
    config_partition_prefix(pt->cfg, pt->p, prefix, sizeof(prefix));
    pt->archiver = archiver_new(pt->cfg, m, dir, prefix, base, on_archived, pt);
    if (pt->archiver == NULL) {
        log_error("start-up: cannot start the archiver of %s", dir);
        return -1;
    }
    return 0;
}

/* Opens the partition's directory and loads its newest valid snapshot. */
static int load(struct part *pt)
{
    struct snapshot_error serr;
    struct proto_id newest = {UINT64_MAX, UINT64_MAX};
    char dir[CONFIG_PATH_MAX + 16];
    part_dir(pt, dir, sizeof(dir));
    if (snapdir_open(&pt->sd, dir, pt->cfg->snapshot_keep, log_snapdir, &serr) != 0) {
        log_error("start-up: %s", serr.text);
        return -1;
    }
    if (load_newest(pt, newest) != 0) {
        log_error("start-up: out of memory");
        return -1;
    }
    if (pt->st.members.count == 0 && pt->st.last_id.ms == 0)
        log_info("no snapshot in %s: state will be rebuilt from the input stream", dir);
    return 0;
}

int part_open(struct part *pt, struct event_base *base, const struct config *cfg,
              struct router *r, uint32_t p, struct metrics *m, struct dlqring *dlq,
              struct snapper_gate *gate)
{
    bool snapshots = gate != NULL;
    pt->cfg = cfg;
    pt->p = p;
    pt->dlq = dlq;
    pt->sd.lock_fd = -1;
    if (init_state(pt) != 0) {
        log_error("start-up: out of memory");
        return -1;
    }
    if (snapshots && load(pt) != 0)
        return -1;
    pt->consumer = consumer_new(base, cfg, r, p, &pt->st, m);
    if (snapshots)
        pt->snapper = snapper_new(base, cfg, &pt->st, &pt->sd, m, gate, on_snapshot_written, pt);
    if (pt->consumer == NULL || (snapshots && pt->snapper == NULL)) {
        log_error("start-up: out of memory");
        return -1;
    }
    consumer_set_hooks(pt->consumer, on_committed, reload, pt);
    consumer_set_landed(pt->consumer, on_landed, pt);
    return snapshots ? open_archiver(pt, base, m) : 0;
}

void part_close(struct part *pt)
{
    archiver_free(pt->archiver); /* first: it calls back into the consumer */
    consumer_free(pt->consumer);
    snapper_free(pt->snapper);
    state_free(&pt->st);
    if (pt->sd.lock_fd >= 0)
        snapdir_close(&pt->sd);
    memset(pt, 0, sizeof(*pt));
    pt->sd.lock_fd = -1;
}

void part_final_snapshot(struct part *pt)
{
    if (pt->snapper == NULL)
        return;
    if (consumer_all_committed(pt->consumer))
        snapper_write_now(pt->snapper);
    else
        log_warn("shutdown: the last commit of %s is unconfirmed; no snapshot written",
                 consumer_prefix(pt->consumer));
}
