/* rulecanon.h - a rulebook's canonical text and its identity.
 *
 * The canonical text prints every rule section and setting of a struct
 * rulebook in one fixed order, defaults included (a list element's
 * optional setting only when it differs from what leaving it out gives),
 * so comments, layout, the order of settings and explicitly written
 * defaults do not change it. Parsed back by rulecanon_parse it gives the
 * same struct, byte for byte. Its identity is the XXH3-128 of that text as
 * 32 lowercase hex digits; the short form (logs, metrics) is the first 12.
 */
#ifndef LOYALTY_RULECANON_H
#define LOYALTY_RULECANON_H

#include <stddef.h>

#include "cfgparse.h"
#include "rulebook.h"
#include "versions.h"

#define RULECANON_HASH_LEN 32  /* hex digits of the XXH3-128 */
#define RULECANON_SHORT_LEN 12 /* hex digits shown in logs and metrics */

/* Returns the canonical text of `rb` (a valid rulebook, as parsed) in a
 * malloc'd NUL-terminated buffer the caller frees, or NULL when out of
 * memory. */
char *rulecanon_text(const struct rulebook *rb);

/* Writes the identity of canonical text `text` into
 * hex[RULECANON_HASH_LEN + 1]. */
void rulecanon_hash_text(const char *text, char *hex);

/* The identity of rulebook `rb` (rulecanon_text, then the hash) into
 * hex[RULECANON_HASH_LEN + 1]. Returns 0, or -1 when out of memory. */
int rulecanon_hash(const struct rulebook *rb, char *hex);

/* Parses libconfig text holding only rule sections (any layout and order;
 * sections left out keep their defaults) over the defaults into `*rb`.
 * Errors name `what` (a file name, or e.g. "rulebook 3fa4...") and the
 * line. Returns 0, or -1 with err->text set. */
int rulecanon_parse(const char *text, const char *what, struct rulebook *rb,
                    struct config_error *err);

/* Parses rulebook text `text` and checks that its identity is `hash`
 * (what a `rules` entry names): the hash of the text's bytes as stored, so
 * a canonical text written by an older build (without a setting added
 * since) still verifies, the new setting at its default. Returns 0 with
 * `*rb` filled, or -1 with err->text naming the problem (does not parse,
 * or hashes elsewhere). */
int rulecanon_verify(const char *text, const char *hash, struct rulebook *rb,
                     struct config_error *err);

/* The rulebook_codec (versions.h) of canonical texts: rulecanon_text and
 * rulecanon_parse, for snapshots. */
const struct rulebook_codec *rulecanon_codec(void);

#endif
