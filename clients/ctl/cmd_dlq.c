/* cmd_dlq.c - `loyaltyctl dlq`: the dead-letter queue's subcommands. */
#include "ctl.h"
#include "ctl_cmds.h"

static const struct ctl_command DLQ_COMMANDS[] = {
    {"list", "rejected entries with their reasons (by id, reason, range)", cmd_dlq_list},
    {"redrive", "re-append chosen entries' original bytes to <prefix>in", cmd_dlq_redrive},
};

int cmd_dlq(int argc, char **argv)
{
    return ctl_dispatch(argv[0], DLQ_COMMANDS, sizeof DLQ_COMMANDS / sizeof DLQ_COMMANDS[0],
                        "The dead-letter queue <prefix>dlq: input the daemon rejected, with "
                        "the reason.",
                        argc, argv);
}
