/* asg-agent: command line entry.  Global options, then one command, each
 * in its own cmd-*.c file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "control-protocol.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: asg-agent [--config FILE] COMMAND [ARGS]\n"
	        "       asg-agent [--config FILE] --check-config\n"
	        "\n"
	        "The AWS side of an EC2 instance in an Auto Scaling group: publishes the\n"
	        "scaling metric to CloudWatch and talks to asg-health.\n"
	        "\n"
	        "Commands:\n"
	        "  run               run the daemon (systemd Type=notify)\n"
	        "  metadata [PATH]   read instance metadata through IMDSv2; PATH is under\n"
	        "                    /latest/meta-data/ unless it starts with '/'\n"
	        "  status            identity, group, last publish and last error of the\n"
	        "                    running daemon (JSON, from its status socket)\n"
	        "  doctor            check IMDS, region, credentials, AWS permissions,\n"
	        "                    asg-health and the config; print a fix for each failure\n"
	        "  drain [--force]   ask asg-health to fail its health check (drain);\n"
	        "                    refused when no other target would be healthy\n"
	        "  undrain           ask asg-health to pass it again\n"
	        "  standby enter [--decrement-desired-capacity] [--force] [--timeout S]\n"
	        "  standby exit [--timeout S]\n"
	        "                    maintenance without replacement (EnterStandby, ExitStandby)\n"
	        "  protect on|off    scale-in protection for this instance\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "      --check-config  validate the configuration and exit\n"
	        "  -V, --version       print the version\n"
	        "  -h, --help          this help\n",
	        AGENT_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 'C'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct agent_config cfg;
	const char *config_path = NULL, *cmd;
	bool check_only = false;
	char err[1024];
	int c, rc;

	log_init("asg-agent");
	/* '+': options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'V':
			printf("asg-agent %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (agent_config_load(&cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "asg-agent: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("%s: ok\n", cfg.path ? cfg.path : "(defaults: no configuration file)");
		agent_config_free(&cfg);
		return 0;
	}
	if (optind >= argc) {
		usage(stderr);
		agent_config_free(&cfg);
		return 2;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "run"))
		rc = cmd_run(&cfg);
	else if (!strcmp(cmd, "metadata"))
		rc = cmd_metadata(&cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "status"))
		rc = cmd_status(&cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "doctor"))
		rc = cmd_doctor(&cfg);
	else if (!strcmp(cmd, "drain"))
		rc = cmd_drain(&cfg, CONTROL_PATH_DRAIN, argc - optind, argv + optind);
	else if (!strcmp(cmd, "undrain"))
		rc = cmd_drain(&cfg, CONTROL_PATH_UNDRAIN, argc - optind, argv + optind);
	else if (!strcmp(cmd, "standby"))
		rc = cmd_standby(&cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "protect"))
		rc = cmd_protect(&cfg, argc - optind, argv + optind);
	else {
		fprintf(stderr, "asg-agent: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	agent_config_free(&cfg);
	return rc;
}
