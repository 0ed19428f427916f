/* cmd_rules_show.c - `loyaltyctl rules show`: which rulebook version is in
 * force, since which entry and event time, what is scheduled, the last
 * switches and whether the configuration file's rulebook is in the log,
 * from GET /v1/rulebook. Read-only. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " rules show [--text] [OPTIONS]\n"
    "Prints the rulebook version in force (its hash, label, the rules entry and\n"
    "the event time it took effect at), the scheduled version if any, the last\n"
    "versions with their switch points, and the hash of the daemon's\n"
    "configuration file (GET /v1/rulebook). --text adds the canonical text of\n"
    "the version in force. Exit status: 0 done, 1 the daemon could not say, 2 usage.\n\n"
    "  --text              print the canonical text too\n"
    CTL_HTTP_USAGE CTL_JSON_USAGE CTL_HELP_USAGE;

enum { OPT_TEXT = CTL_OPT_FIRST_FREE };

static const struct option LONGOPTS[] = {
    CTL_HTTP_LONGOPTS, CTL_JSON_LONGOPT, CTL_HELP_LONGOPT,
    {"text", no_argument, NULL, OPT_TEXT}, {NULL, 0, NULL, 0},
};

static int apply_option(void *opts, int opt, const char *arg, struct client_error *err)
{
    (void)arg;
    (void)err;
    if (opt != OPT_TEXT)
        return -1;
    *(bool *)opts = true;
    return 0;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : "-";
}

/* One version: hash, label, the entry that named it, when it switched. */
static void print_version(const char *what, const json_t *v)
{
    printf("%-10s %-32s  label %-16s entry %-22s", what,
           *str(v, "hash") == '-' ? "(start-up version)" : str(v, "hash"), str(v, "label"),
           str(v, "entry_id"));
    if (json_integer_value(json_object_get(v, "effective_ts")) > 0) {
        fputs("  effective ", stdout);
        ctl_print_value("effective_ts", json_object_get(v, "effective_ts"));
    }
    if (json_object_get(v, "since_id") != NULL) {
        printf("  switched at %s ", str(v, "since_id"));
        ctl_print_value("since_ts", json_object_get(v, "since_ts"));
    }
    fputc('\n', stdout);
}

static void print_rulebook(const json_t *rb)
{
    const json_t *since = json_object_get(rb, "since");
    printf("in force   %s  label %s  since entry %s ", *str(rb, "hash") == '-'
           ? "(start-up version, named by no rules entry)" : str(rb, "hash"), str(rb, "label"),
           str(since, "id"));
    ctl_print_value("since_ts", json_object_get(since, "ts"));
    fputc('\n', stdout);
    const json_t *next = json_object_get(rb, "scheduled");
    if (json_is_object(next))
        print_version("scheduled", next);
    else
        printf("scheduled  none\n");
    const char *file = str(rb, "file_hash");
    bool in_log = strcmp(file, str(rb, "hash")) == 0 ||
                  (json_is_object(next) && strcmp(file, str(next, "hash")) == 0);
    printf("file       %s  (%s)\n", file, in_log ? "in the log" : "not in the log yet");
    size_t i;
    const json_t *v;
    printf("versions, newest first:\n");
    json_array_foreach(json_object_get(rb, "versions"), i, v)
        print_version(" ", v);
    const char *text = json_string_value(json_object_get(rb, "text"));
    if (text != NULL)
        fputs(text, stdout);
}

int cmd_rules_show(int argc, char **argv)
{
    struct ctl_opts o;
    struct client_error err;
    bool text = false;
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, apply_option, &text, 0, 0};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    json_t *doc = NULL;
    int status = ctl_http_get_json(&o, text ? "/v1/rulebook?text=1" : "/v1/rulebook", &doc,
                                   &err);
    if (status < 0)
        return ctl_fail(argv[0], err.text);
    if (status != 200 || !json_is_object(doc)) {
        fprintf(stderr, "%s: HTTP %d from GET /v1/rulebook%s\n", argv[0], status,
                status == 401 ? " (set $" CTL_DEFAULT_TOKEN_ENV " or --token-env)" : "");
        json_decref(doc);
        return CLIENT_EXIT_FAIL;
    }
    if (o.json)
        ctl_print_json(doc);
    else
        print_rulebook(doc);
    json_decref(doc);
    return CLIENT_EXIT_OK;
}
