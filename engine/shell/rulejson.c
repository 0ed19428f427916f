/* rulejson.c - see rulejson.h. */
#include "rulejson.h"

#include <string.h>

#include "rulecanon.h"

static json_t *id_json(struct proto_id id)
{
    char s[PROTO_ID_STR_MAX];
    proto_id_format(id, s, sizeof(s));
    return json_string(s);
}

static json_t *version_json(const struct rulebook_version *v)
{
    return json_pack("{s:s, s:s, s:o, s:I, s:o, s:I}", "hash", v->hash, "label", v->label,
                     "entry_id", id_json(v->entry_id), "effective_ts",
                     (json_int_t)v->effective_ts, "since_id", id_json(v->since_id),
                     "since_ts", (json_int_t)v->since_ts);
}

static json_t *scheduled_json(const struct versions *v)
{
    if (!v->has_next)
        return json_null();
    return json_pack("{s:s, s:s, s:o, s:I}", "hash", v->next_info.hash, "label",
                     v->next_info.label, "entry_id", id_json(v->next_info.entry_id),
                     "effective_ts", (json_int_t)v->next_info.effective_ts);
}

json_t *rulejson_versions(const struct versions *v, struct proto_id state_id, bool history)
{
    const struct rulebook_version *cur = versions_current(v);
    char short_hash[RULECANON_SHORT_LEN + 1];
    snprintf(short_hash, sizeof(short_hash), "%.*s", RULECANON_SHORT_LEN, cur->hash);
    json_t *j = json_pack("{s:s, s:s, s:s, s:{s:o, s:I}, s:o, s:o, s:o}", "hash", cur->hash,
                          "short", short_hash, "label", cur->label, "since", "id",
                          id_json(cur->since_id), "ts", (json_int_t)cur->since_ts, "entry_id",
                          id_json(cur->entry_id), "scheduled", scheduled_json(v), "state_id",
                          id_json(state_id));
    if (j == NULL || !history)
        return j;
    json_t *list = json_array();
    for (uint32_t i = v->count; list != NULL && i-- > 0;)
        json_array_append_new(list, version_json(&v->history[i]));
    if (list == NULL || json_object_set_new(j, "versions", list) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}
