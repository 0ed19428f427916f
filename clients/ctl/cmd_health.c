/* cmd_health.c - `loyaltyctl health`: GET /healthz as one line, and an
 * exit status a script or a probe can act on. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "msgview.h"

static const char USAGE[] =
    "Usage: " CTL_PROG " health [OPTIONS]\n"
    "Asks the daemon whether it is consuming (GET /healthz) and prints one line:\n"
    "  ok: consumer=consuming redis_up=true last_id=1780000000000-0 members=500\n"
    "  degraded: consumer=recovering ...      (HTTP 503: connecting, recovering,\n"
    "                                          redis_behind, stopping)\n"
    "  unreachable: cannot connect to http://127.0.0.1:8080\n"
    "Exit status: 0 healthy, 1 degraded or unreachable, 2 usage.\n\n"
    CTL_HTTP_USAGE CTL_JSON_USAGE CTL_HELP_USAGE;

static const struct option LONGOPTS[] = {
    CTL_HTTP_LONGOPTS, CTL_JSON_LONGOPT, CTL_HELP_LONGOPT, {NULL, 0, NULL, 0},
};

static void print_line(const json_t *doc, int status)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    if (st == NULL) {
        printf("degraded: HTTP %d without a health report\n", status);
        return;
    }
    msgview_print_bytes(stdout, st, strlen(st));
    fputc(':', stdout);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v) {
        if (strcmp(key, "status") == 0)
            continue;
        fputc(' ', stdout);
        msgview_print_bytes(stdout, key, strlen(key));
        fputc('=', stdout);
        ctl_print_value(key, v);
    }
    fputc('\n', stdout);
}

int cmd_health(int argc, char **argv)
{
    struct ctl_opts o;
    struct client_error err;
    int first = 0;
    const struct ctl_args args = {USAGE, LONGOPTS, NULL, NULL, 0, 0};
    int rc = ctl_parse(argc, argv, &o, &args, &first);
    if (rc >= 0)
        return rc;
    json_t *doc = NULL;
    int status = ctl_http_get_json(&o, "/healthz", &doc, &err);
    if (status < 0) {
        if (o.json) {
            fputs("{\"status\":\"unreachable\",\"error\":", stdout);
            msgview_json_string(stdout, err.text, strlen(err.text));
            fputs("}\n", stdout);
        } else {
            printf("unreachable: %s\n", err.text);
        }
        return CLIENT_EXIT_FAIL;
    }
    if (o.json && doc != NULL)
        ctl_print_json(doc);
    else if (o.json)
        printf("{\"status\":\"degraded\",\"http_status\":%d}\n", status);
    else
        print_line(doc, status);
    const char *st = json_string_value(json_object_get(doc, "status"));
    bool ok = status == 200 && st != NULL && strcmp(st, "ok") == 0;
    json_decref(doc);
    return ok ? CLIENT_EXIT_OK : CLIENT_EXIT_FAIL;
}
