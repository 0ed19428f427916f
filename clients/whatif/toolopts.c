/* toolopts.c - see toolopts.h. */
#include "toolopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archfmt.h"
#include "rulecanon.h"

int tool_option(struct tool_opts *o, int opt, const char *arg, struct client_error *err)
{
    switch (opt) {
    case 'c': o->conf = arg; return 1;
    case TOOL_OPT_REDIS: o->redis = arg; return 1;
    case TOOL_OPT_PREFIX: o->prefix = arg; return 1;
    case TOOL_OPT_DATA: o->data = arg; return 1;
    case TOOL_OPT_ARCHIVE_ONLY: o->no_stream = true; return 1;
    case TOOL_OPT_UNTIL:
        if (proto_id_parse(arg, strlen(arg), &o->until) != 0) {
            snprintf(err->text, sizeof(err->text), "--until: '%.64s' is not a stream id", arg);
            return -1;
        }
        return 1;
    default: return 0;
    }
}

int tool_config(const struct tool_opts *o, struct config *cfg, struct client_error *err)
{
    struct config_error cerr;
    config_defaults(cfg);
    if (o->conf == NULL) {
        snprintf(err->text, sizeof(err->text), "-c FILE (the daemon's configuration) is needed");
        return -1;
    }
    if (config_load(cfg, o->conf, &cerr) != 0 ||
        (o->redis && cfg_parse_endpoint(o->redis, &cfg->redis, &cerr) != 0)) {
        snprintf(err->text, sizeof(err->text), "%s", cerr.text);
        return -1;
    }
    if ((o->prefix && (strlen(o->prefix) == 0 || strlen(o->prefix) > CONFIG_KEY_MAX)) ||
        (o->data && (strlen(o->data) == 0 || strlen(o->data) > CONFIG_PATH_MAX))) {
        snprintf(err->text, sizeof(err->text), "--prefix or --data: empty or too long");
        return -1;
    }
    const char *pw = cfg->redis_password_env[0] ? getenv(cfg->redis_password_env) : NULL;
    if (pw != NULL)
        snprintf(cfg->redis_password, sizeof(cfg->redis_password), "%s", pw);
    if (o->prefix)
        snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", o->prefix);
    if (o->data)
        snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", o->data);
    return 0;
}

int tool_source(const struct tool_opts *o, const struct config *cfg, char *dir,
                struct history_src *src, struct client_error *err)
{
    memset(src, 0, sizeof(*src));
    snprintf(dir, ARCH_DIR_MAX + 1, "%s/archive", cfg->data_dir);
    src->archive_dir = dir;
    src->prefix = cfg->prefix;
    src->until = o->until;
    src->config_rb = &cfg->rules;
    if (o->no_stream)
        return 0;
    struct client_endpoint ep;
    snprintf(ep.host, sizeof(ep.host), "%s", cfg->redis.host);
    ep.port = cfg->redis.port;
    src->rc = client_connect(&ep, CLIENT_CONNECT_MS, TOOL_IO_MS, err);
    if (src->rc == NULL)
        return -1;
    if (cfg->redis_password[0] == '\0')
        return 0;
    redisReply *r = cfg->redis_user[0]
                        ? redisCommand(src->rc, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
                        : redisCommand(src->rc, "AUTH %s", cfg->redis_password);
    int rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc != 0)
        snprintf(err->text, sizeof(err->text), "Redis refused AUTH");
    freeReplyObject(r);
    return rc;
}

int tool_add_config_rules(struct rulestore *rs, const struct config *cfg)
{
    char hash[RULECANON_HASH_LEN + 1];
    if (rulecanon_hash(&cfg->rules, hash) != 0)
        return -1;
    return rulestore_add(rs, hash, &cfg->rules);
}
