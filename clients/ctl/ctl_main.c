/* ctl_main.c - loyaltyctl: the operator's command-line tool.
 *
 * One obvious tool per job: `member` looks a member up (HTTP, no side
 * effect), `health` says whether the daemon consumes, `tail` prints output
 * events and DLQ entries (it replaced loyalty-tail), `dlq` lists rejected
 * entries and re-drives them after a fix, `rules` shows, compares and
 * pushes rulebook versions. loyalty-scan stays the till
 * simulator (it pushes a real scan) and loyalty-posload the load generator.
 * Subcommands are a table (ctl.h): one file each.
 */
#include "ctl.h"
#include "ctl_cmds.h"

static const struct ctl_command COMMANDS[] = {
    {"member", "look a member up (GET /v1/members/ID); changes nothing", cmd_member},
    {"health", "is the daemon consuming? one line; exit status 0 only when healthy",
     cmd_health},
    {"tail", "print output events and DLQ entries (filters; follow or once)", cmd_tail},
    {"dlq", "list rejected entries; re-drive them to the input after a fix", cmd_dlq},
    {"partitions", "each partition's owner, epoch, marker and lag (Scaling out)",
     cmd_partitions},
    {"rules", "rulebook versions: show the one in force, diff a file, push one", cmd_rules},
    {"liability", "points outstanding by cohort and expiry month, monthly movements, "
                  "breakage (GET /v1/liability)", cmd_liability},
    {"whatif", "replay the whole history under a candidate rulebook (runs loyalty-whatif)",
     cmd_whatif},
};

int main(int argc, char **argv)
{
    return ctl_dispatch(CTL_PROG, COMMANDS, sizeof COMMANDS / sizeof COMMANDS[0],
                        "Operates loyaltyd: lookups, health, events, the dead-letter queue, the rulebook.",
                        argc, argv);
}
