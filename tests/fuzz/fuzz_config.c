/* fuzz_config.c - libFuzzer target for config_load.
 *
 * Built with -DLOYALTY_FUZZ=ON (tests/fuzz/CMakeLists.txt), run by ctest
 * for a while on conf/loyaltyd.conf and the small files in corpus/config,
 * or by hand:
 *   build-asan/tests/fuzz/fuzz_config -detect_leaks=0 -runs=10000000 \
 *     CORPUS_DIR tests/fuzz/corpus/config conf
 *
 * config_load reads a file, so each input is written to one temporary file
 * of this process (created once, rewritten in place) and loaded over the
 * defaults. Beyond "never crashes, leaks or reads out of bounds":
 *  - a failure says "PATH:LINE: problem", LINE a line of the file (>= 1),
 *    or "PATH: problem" for what is wrong with the file as a whole (a NUL
 *    byte, over CONFIG_FILE_MAX: cfg_read_file) and only then;
 *  - a success leaves a rulebook the rules core may rely on: at least one
 *    tier, the first at threshold 0, thresholds strictly increasing, and
 *    every count within its array.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libconfig 1.5 (Debian 12) leaks the text of a string token that a syntax
 * error discards (a file holding just `""` does): hyperrealm/libconfig#142,
 * fixed upstream in 1.7.3. Not ours, and bounded by one string per failed
 * load (the daemon stops on a bad file), so LeakSanitizer is told to skip
 * exactly the scanner's two string allocation sites; a leak of settings
 * (say, a missing config_destroy) would still be reported. (The name is the
 * sanitizer's hook.) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static char path[64];
static int fd = -1;

/* The input file is unlinked at once and loaded through /proc/self/fd, so
 * no run (crashed, killed or timed out) leaves it behind. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("TMPDIR");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/fuzz_config.XXXXXX", dir != NULL ? dir : "/tmp");
    fd = mkstemp(tmp);
    if (fd < 0 || unlink(tmp) != 0) {
        perror("fuzz_config: temporary file");
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return 0;
}

/* "PATH:LINE: " with LINE >= 1, then the problem; "PATH: problem" when
 * the file as a whole is refused (`whole_file`). */
static void check_error(const struct config_error *err, bool whole_file)
{
    size_t n = strlen(path);
    if (memchr(err->text, '\0', sizeof(err->text)) == NULL ||
        strncmp(err->text, path, n) != 0 || err->text[n] != ':')
        abort();
    if (whole_file) {
        if (err->text[n + 1] != ' ' || err->text[n + 2] == '\0')
            abort();
        return;
    }
    char *end;
    long line = strtol(err->text + n + 1, &end, 10);
    if (end == err->text + n + 1 || line < 1 || end[0] != ':' || end[1] != ' ' ||
        end[2] == '\0')
        abort();
}

static void check_rulebook(const struct rulebook *rb)
{
    if (rb->tier_count < 1 || rb->tier_count > RULEBOOK_TIERS_MAX ||
        rb->tiers[0].threshold != 0)
        abort();
    for (uint32_t i = 1; i < rb->tier_count; i++)
        if (rb->tiers[i].threshold <= rb->tiers[i - 1].threshold)
            abort();
    for (uint32_t i = 0; i < rb->tier_count; i++)
        if (rb->tiers[i].perk_count > RULEBOOK_PERKS_MAX || rb->tiers[i].name[0] == '\0')
            abort();
    if (rb->category_count > RULEBOOK_CATEGORIES_MAX ||
        rb->campaign_count > RULEBOOK_CAMPAIGNS_MAX ||
        rb->auto_reward_count > RULEBOOK_AUTO_REWARDS_MAX ||
        rb->milestone_count > RULEBOOK_MILESTONES_MAX ||
        rb->catalog_count > RULEBOOK_CATALOG_MAX ||
        rb->expiry_months > RULEBOOK_EXPIRY_MONTHS_MAX || rb->window_months < 1 ||
        rb->window_months > RULEBOOK_WINDOW_MONTHS_MAX || rb->minor_per_unit < 1 ||
        rb->txns_max < 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Static: the configuration is ~50 KiB, and fully reset each time. */
    static struct config cfg;
    struct config_error err;
    if (pwrite(fd, data, size, 0) != (ssize_t)size || ftruncate(fd, (off_t)size) != 0) {
        perror("fuzz_config: rewriting the input file");
        abort();
    }
    config_defaults(&cfg);
    memset(&err, 0, sizeof(err));
    /* Only a file over the size limit is refused as a whole; a NUL byte is
     * refused naming its line (cfg_read_file). */
    bool whole_file = size > CONFIG_FILE_MAX;
    if (config_load(&cfg, path, &err) != 0)
        check_error(&err, whole_file);
    else
        check_rulebook(&cfg.rules);
    return 0;
}
