/* cmd_whatif.c - `loyaltyctl whatif ...`: runs loyalty-whatif (the replay
 * of the whole history under a candidate rulebook, clients/whatif/) with
 * the same arguments. A thin wrapper: the tool is a program of its own,
 * installed next to loyaltyctl; this finds it there (or on PATH) and
 * replaces this process with it, so its exit status and output are the
 * tool's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cmds.h"

#define WHATIF_PROG "loyalty-whatif"

int cmd_whatif(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + sizeof(WHATIF_PROG)];
    char *name = argv[0];
    char **args = argv; /* argv[argc] is NULL, as main's is */
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    (void)argc;
    args[0] = WHATIF_PROG;
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            slash[1] = '\0';
            snprintf(path, sizeof(path), "%s%s", self, WHATIF_PROG);
            execv(path, args); /* returns only when it is not there */
        }
    }
    execvp(WHATIF_PROG, args);
    fprintf(stderr, "%s: cannot run %s (%s): it is built and installed with loyaltyctl\n",
            name, WHATIF_PROG, strerror(errno));
    return CLIENT_EXIT_FAIL;
}
