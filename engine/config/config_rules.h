/* config_rules.h - the rulebook sections of the configuration file:
 * earning, tiers, rewards, expiry, refunds, notices, idempotency, transfers and
 * segments, each
 * a table of cfgparse.h filling a struct rulebook. Every feature is off
 * unless configured.
 */
#ifndef LOYALTY_CONFIG_RULES_H
#define LOYALTY_CONFIG_RULES_H

#include "cfgparse.h"
#include "rulebook.h"

/* The rule sections' names, for error messages. */
#define CONFIG_RULES_SECTIONS \
    "earning, tiers, rewards, expiry, refunds, notices, segments, idempotency, transfers"

/* Fills `*rb` with the built-in defaults (documented in
 * conf/loyaltyd.conf): every byte set, padding zeroed. */
void config_rules_defaults(struct rulebook *rb);

/* The section parser for rule section `name` (its base is a struct
 * rulebook), or NULL when `name` is not a rule section. */
const struct cfg_section *config_rules_section(const char *name);

#endif
