/* cmd_rules_diff.c - `loyaltyctl rules diff FILE`: a rulebook file against
 * the version in force, compared as canonical texts (rulecanon.h), so that
 * comments, layout, order and written-out defaults do not count. The text
 * in force comes from GET /v1/rulebook?text=1; the file is read and
 * canonicalised here, with the daemon's own code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "rulepush.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " rules diff FILE [OPTIONS]\n"
    "Compares the rule sections of FILE (a loyaltyd.conf or a file of rule sections)\n"
    "with the rulebook version in force, as canonical texts: lines only in force\n"
    "start with '-', lines only in the file with '+'. Exit status: 0 the same,\n"
    "1 they differ (or the daemon could not say), 2 usage or a bad file.\n\n"
    CTL_HTTP_USAGE CTL_HELP_USAGE
    "Example:\n"
    "  " CTL_PROG " rules diff /etc/loyaltyd/loyaltyd.conf\n";

static const struct option LONGOPTS[] = {
    CTL_HTTP_LONGOPTS, CTL_HELP_LONGOPT, {NULL, 0, NULL, 0},
};

/* Lines compared at most, each side, past the common head and tail: the
 * comparison table is (n + 1)^2 16-bit cells (8 MiB). A rulebook prints
 * to a few hundred lines. */
#define DIFF_LINES_MAX 2000

struct lines {
    char **v;
    size_t n;
};

/* Splits `text` (modified in place) into its lines. Returns 0, or -1. */
static int split(char *text, struct lines *l)
{
    size_t cap = 64;
    l->n = 0;
    l->v = malloc(cap * sizeof(*l->v));
    for (char *p = text; l->v != NULL && *p != '\0';) {
        if (l->n == cap) {
            char **v = realloc(l->v, 2 * cap * sizeof(*v));
            if (v == NULL)
                break;
            l->v = v;
            cap *= 2;
        }
        l->v[l->n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return l->v != NULL ? 0 : -1;
}

/* Prints the lines of a[0..n) and b[0..m) as a shortest edit (longest
 * common subsequence); plain -/+ blocks when they are too long. */
static void print_middle(char **a, size_t n, char **b, size_t m)
{
    uint16_t *t = n <= DIFF_LINES_MAX && m <= DIFF_LINES_MAX
                      ? calloc((n + 1) * (m + 1), sizeof(*t)) : NULL;
    if (t == NULL) {
        for (size_t i = 0; i < n; i++)
            printf("-%s\n", a[i]);
        for (size_t j = 0; j < m; j++)
            printf("+%s\n", b[j]);
        return;
    }
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            T(i, j) = strcmp(a[i], b[j]) == 0 ? (uint16_t)(T(i + 1, j + 1) + 1)
                      : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(a[i], b[j]) == 0) {
            printf(" %s\n", a[i++]);
            j++;
        } else if (j < m && (i == n || T(i, j + 1) >= T(i + 1, j))) {
            printf("+%s\n", b[j++]);
        } else {
            printf("-%s\n", a[i++]);
        }
    }
#undef T
    free(t);
}

/* Prints the differences (the common head and tail left out). */
static void print_diff(struct lines *a, struct lines *b)
{
    size_t head = 0, tail = 0;
    while (head < a->n && head < b->n && strcmp(a->v[head], b->v[head]) == 0)
        head++;
    while (tail < a->n - head && tail < b->n - head &&
           strcmp(a->v[a->n - 1 - tail], b->v[b->n - 1 - tail]) == 0)
        tail++;
    printf("@@ lines %zu..%zu in force, %zu..%zu in the file @@\n", head + 1, a->n - tail,
           head + 1, b->n - tail);
    print_middle(a->v + head, a->n - head - tail, b->v + head, b->n - head - tail);
}

int cmd_rules_diff(int argc, char **argv)
{
    struct ctl_opts o;
    struct client_error err;
    char why[RULEPUSH_ERROR_MAX];
    struct rulepush_book file;
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, NULL, NULL, 1, 1};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    if (rulepush_load(argv[first], RULEBOOK_EXPIRY_MONTHS_MAX, &file, why, sizeof why) != 0)
        return client_usage_error(argv[0], why);
    json_t *doc = NULL;
    int status = ctl_http_get_json(&o, "/v1/rulebook?text=1", &doc, &err);
    const char *now = json_string_value(json_object_get(doc, "text"));
    const char *hash = json_string_value(json_object_get(doc, "hash"));
    if (status != 200 || now == NULL || hash == NULL) {
        rulepush_book_free(&file);
        json_decref(doc);
        return ctl_fail(argv[0], status < 0 ? err.text : "GET /v1/rulebook?text=1 failed");
    }
    if (strcmp(hash, file.hash) == 0) {
        printf("the file's rulebook %s is the version in force\n", file.hash);
    } else {
        char *copy = strdup(now);
        struct lines a = {NULL, 0}, b = {NULL, 0};
        printf("--- in force %s\n+++ %s %s\n", hash[0] ? hash : "(start-up version)",
               argv[first], file.hash);
        if (copy != NULL && split(copy, &a) == 0 && split(file.text, &b) == 0)
            print_diff(&a, &b);
        free(a.v);
        free(b.v);
        free(copy);
    }
    rc = strcmp(hash, file.hash) == 0 ? CLIENT_EXIT_OK : CLIENT_EXIT_FAIL;
    rulepush_book_free(&file);
    json_decref(doc);
    return rc;
}
