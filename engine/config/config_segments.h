/* config_segments.h - the `segments` rule section (config_segments.c):
 * RFM cut points, the segment table, value classes, lifecycle thresholds,
 * lifetime-value inputs. Part of the rulebook sections (config_rules.h).
 */
#ifndef LOYALTY_CONFIG_SEGMENTS_H
#define LOYALTY_CONFIG_SEGMENTS_H

#include "cfgparse.h"
#include "rulebook.h"

/* The section; its base is a struct rulebook. Present means enabled. */
extern const struct cfg_section config_segments_section;

/* Fills `*sg` with the defaults: a standard RFM segment table and four
 * value classes, segments off. */
void config_segments_defaults(struct rulebook_segments *sg);

#endif
