/* ctl_cmds.h - loyaltyctl's subcommands, one file each (see ctl.h). Each
 * takes argv as ctl_run_fn says and returns the exit code. */
#ifndef LOYALTY_CTL_CMDS_H
#define LOYALTY_CTL_CMDS_H

/* cmd_member.c: GET /v1/members/ID, printed. No side effect. */
int cmd_member(int argc, char **argv);
/* cmd_health.c: GET /healthz in one line; exit 0 only when healthy. */
int cmd_health(int argc, char **argv);
/* cmd_tail.c: output events and DLQ entries, filtered, following or once. */
int cmd_tail(int argc, char **argv);
/* cmd_dlq.c: the `dlq` table: list, redrive. */
int cmd_dlq(int argc, char **argv);
/* cmd_dlq_list.c: DLQ entries chosen by id, reason or range. */
int cmd_dlq_list(int argc, char **argv);
/* cmd_dlq_redrive.c: re-appends chosen DLQ entries' bytes to the input. */
int cmd_dlq_redrive(int argc, char **argv);
/* cmd_partitions.c: each partition's owner, epoch, marker and lag. */
int cmd_partitions(int argc, char **argv);
/* cmd_liability.c: GET /v1/liability as tables or JSON. */
int cmd_liability(int argc, char **argv);
/* cmd_whatif.c: runs loyalty-whatif with the same arguments. */
int cmd_whatif(int argc, char **argv);

/* cmd_rules.c: the `rules` table: show, diff, push. */
int cmd_rules(int argc, char **argv);
/* cmd_rules_show.c: the version in force and the last switches (HTTP). */
int cmd_rules_show(int argc, char **argv);
/* cmd_rules_diff.c: a rulebook file against the version in force. */
int cmd_rules_diff(int argc, char **argv);
/* cmd_rules_push.c: stores a file's rulebook, appends its rules entry. */
int cmd_rules_push(int argc, char **argv);

#endif
