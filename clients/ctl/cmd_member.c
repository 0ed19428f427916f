/* cmd_member.c - `loyaltyctl member ID`: the member record from
 * GET /v1/members/ID. Read-only: unlike loyalty-scan, it appends nothing
 * to any stream, so no consumer sees a perk.triggered. */
#include <stdio.h>
#include <string.h>

#include "lyassert.h"
#include "ctl.h"
#include "ctl_cmds.h"
#include "msgview.h"
#include "proto.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " member ID [OPTIONS]\n"
    "Looks member ID up in the daemon's memory (GET /v1/members/ID) and prints\n"
    "the record: tier and perks, balance, progress to the next tier, points\n"
    "expiring, segment. Changes nothing (loyalty-scan, by contrast, pushes a real\n"
    "scan). Exit status: 0 found, 1 unknown member or the daemon said no, 2 usage.\n\n"
    CTL_HTTP_USAGE CTL_JSON_USAGE CTL_HELP_USAGE
    "Example:\n"
    "  " CTL_PROG " member M000042 --http 127.0.0.1:8080\n";

static const struct option LONGOPTS[] = {
    CTL_HTTP_LONGOPTS, CTL_JSON_LONGOPT, CTL_HELP_LONGOPT, {NULL, 0, NULL, 0},
};

/* The contract's member id: 1..PROTO_MEMBER_MAX bytes of 0x21..0x7e. */
static bool member_id_ok(const char *id)
{
    size_t len = strlen(id);
    for (size_t i = 0; i < len; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return false;
    return len >= 1 && len <= PROTO_MEMBER_MAX;
}

static void print_record(const json_t *doc)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v) {
        msgview_print_bytes(stdout, key, strlen(key));
        printf("%*s", strlen(key) < 24 ? (int)(24 - strlen(key)) : 1, "");
        ctl_print_value(key, v);
        fputc('\n', stdout);
    }
}

/* The `error` and `detail` of an error body, for the message. */
static void print_refusal(const char *prog, int status, const json_t *doc)
{
    const char *error = json_string_value(json_object_get(doc, "error"));
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    fprintf(stderr, "%s: HTTP %d %s%s%s%s\n", prog, status, error ? error : "",
            detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
    if (status == 401)
        fprintf(stderr, "%s: the daemon wants a token: set $%s or pass --token-env VAR\n",
                prog, CTL_DEFAULT_TOKEN_ENV);
}

int cmd_member(int argc, char **argv)
{
    struct ctl_opts o;
    struct client_error err;
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, NULL, NULL, 1, 1};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    const char *id = argv[first];
    if (!member_id_ok(id))
        return client_usage_error(argv[0], "a member id is 1..32 printable ASCII "
                                           "characters without spaces");
    char path[HTTPGET_PATH_MAX] = "/v1/members/";
    rc = httpget_path_append(path, sizeof path, id);
    LY_ASSERT(rc == 0); /* a member id of PROTO_MEMBER_MAX bytes always fits */
    json_t *doc = NULL;
    int status = ctl_http_get_json(&o, path, &doc, &err);
    if (status < 0)
        return ctl_fail(argv[0], err.text);
    if (o.json && doc != NULL)
        ctl_print_json(doc);
    if (status == 200 && json_is_object(doc)) {
        if (!o.json)
            print_record(doc);
        rc = CLIENT_EXIT_OK;
    } else if (status == 404) {
        if (!o.json)
            fprintf(stderr, "%s: no member '%s'\n", argv[0], id);
        rc = CLIENT_EXIT_FAIL;
    } else {
        print_refusal(argv[0], status, doc);
        rc = CLIENT_EXIT_FAIL;
    }
    json_decref(doc);
    return rc;
}
