/* cmd_rules.c - `loyaltyctl rules`: the rulebook versions' subcommands. */
#include "ctl.h"
#include "ctl_cmds.h"

static const struct ctl_command RULES_COMMANDS[] = {
    {"show", "the version in force, the scheduled one, the last switches (GET /v1/rulebook)",
     cmd_rules_show},
    {"diff", "a rulebook file against the version in force, line by line (canonical text)",
     cmd_rules_diff},
    {"push", "store a file's rulebook and append a rules entry naming it", cmd_rules_push},
};

int cmd_rules(int argc, char **argv)
{
    return ctl_dispatch(argv[0], RULES_COMMANDS,
                        sizeof RULES_COMMANDS / sizeof RULES_COMMANDS[0],
                        "Rulebook versions: a change takes effect only through a rules entry "
                        "in <prefix>in (README, Changing the program).",
                        argc, argv);
}
