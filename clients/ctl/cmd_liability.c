/* cmd_liability.c - `loyaltyctl liability`: the points liability from
 * GET /v1/liability (README, Liability) as tables, or its JSON. Read-only. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "msgview.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " liability [OPTIONS]\n"
    "Prints the points liability the daemon keeps (GET /v1/liability): points\n"
    "outstanding (value when configured), pending and owed, the redemption rate and\n"
    "the breakage observed on closed cohorts, then outstanding points by earning\n"
    "month (cohort) and by expiry month, and each calendar month's movements.\n"
    "Summed over the partitions the daemon serves (--json has each one apart).\n"
    "Exit status: 0 printed, 1 the daemon is unreachable or said no, 2 usage.\n\n"
    CTL_HTTP_USAGE CTL_JSON_USAGE CTL_HELP_USAGE
    "Example:\n"
    "  " CTL_PROG " liability --http 127.0.0.1:8080\n";

static const struct option LONGOPTS[] = {
    CTL_HTTP_LONGOPTS, CTL_JSON_LONGOPT, CTL_HELP_LONGOPT, {NULL, 0, NULL, 0},
};

static long long int_of(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* "12.34%" from basis points, "-" for null. */
static void print_bp(const char *label, const json_t *v)
{
    if (json_is_integer(v))
        printf("%s %lld.%02lld%%", label, (long long)json_integer_value(v) / 100,
               (long long)json_integer_value(v) % 100);
    else
        printf("%s -", label);
}

static void print_totals(const json_t *doc, const json_t *t)
{
    const char *month = json_string_value(json_object_get(doc, "as_of"));
    const char *currency = json_string_value(json_object_get(doc, "currency"));
    printf("as of %s (engine clock)\noutstanding %lld points", month ? month : "-",
           int_of(t, "outstanding_points"));
    if (json_is_integer(json_object_get(t, "outstanding_value_minor")))
        printf(" (%lld %s minor units)", int_of(t, "outstanding_value_minor"),
               currency ? currency : "");
    printf("   pending %lld   debt %lld", int_of(t, "pending_points"), int_of(t, "debt_points"));
    if (int_of(t, "opening_points") != 0)
        printf("   opening %lld", int_of(t, "opening_points"));
    printf("\n");
    print_bp("redemption rate", json_object_get(t, "redemption_rate_bp"));
    print_bp("   breakage (closed cohorts)", json_object_get(t, "breakage_bp"));
    printf("\n");
}

/* A table: a header, then for each row of `rows` its "month" and `keys`. */
static void print_table(const char *title, const json_t *rows, const char *const *keys)
{
    printf("\n%-9s", title);
    for (const char *const *k = keys; *k; k++)
        printf(" %12.12s", *k);
    printf("\n");
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        const char *month = json_string_value(json_object_get(row, "month"));
        printf("%-9s", month ? month : "?");
        for (const char *const *k = keys; *k; k++)
            printf(" %12lld", int_of(row, *k));
        printf("\n");
    }
}

static const char *const COHORT_KEYS[] = {"outstanding", "in", "redeemed", "expired", "other",
                                          NULL};
static const char *const EXPIRY_KEYS[] = {"points", NULL};
static const char *const MONTH_KEYS[] = {
    "issued", "redeemed", "expired", "refunded", "adjusted_in", "adjusted_out",
    "transferred_in", "transferred_out", "pending_held", "pending_released",
    "pending_cancelled", NULL};

int cmd_liability(int argc, char **argv)
{
    struct ctl_opts o;
    struct client_error err;
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, NULL, NULL, 0, 0};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    json_t *doc = NULL;
    int status = ctl_http_get_json(&o, "/v1/liability", &doc, &err);
    if (status < 0)
        return ctl_fail(argv[0], err.text);
    const json_t *t = json_object_get(doc, "totals");
    if (status != 200 || !json_is_object(t)) {
        fprintf(stderr, "%s: HTTP %d%s\n", argv[0], status,
                status == 401 ? ": the daemon wants a token: set $" CTL_DEFAULT_TOKEN_ENV
                                " or pass --token-env VAR"
                              : "");
        json_decref(doc);
        return CLIENT_EXIT_FAIL;
    }
    if (o.json) {
        ctl_print_json(doc);
    } else {
        print_totals(doc, t);
        print_table("cohort", json_object_get(t, "by_cohort"), COHORT_KEYS);
        print_table("expires", json_object_get(t, "by_expiry"), EXPIRY_KEYS);
        print_table("month", json_object_get(t, "by_month"), MONTH_KEYS);
    }
    json_decref(doc);
    return CLIENT_EXIT_OK;
}
