/* One function per `asg-agent` command, one file each (cmd-*.c).  Each
 * returns the process exit status. */
#ifndef ASG_AGENT_COMMANDS_H
#define ASG_AGENT_COMMANDS_H

#include "config.h"

int cmd_run(const struct agent_config *cfg);
int cmd_metadata(const struct agent_config *cfg, int argc, char **argv);
int cmd_status(const struct agent_config *cfg, int argc, char **argv);
int cmd_doctor(const struct agent_config *cfg);
/* path: "/drain" (with the cascade guard unless --force) or "/undrain". */
int cmd_drain(const struct agent_config *cfg, const char *path, int argc, char **argv);
/* standby enter [--decrement-desired-capacity] [--force] | exit */
int cmd_standby(const struct agent_config *cfg, int argc, char **argv);
/* protect on|off */
int cmd_protect(const struct agent_config *cfg, int argc, char **argv);

#endif
