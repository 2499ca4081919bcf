/* `asg-agent standby enter|exit`: maintenance without replacement
 * (EnterStandby/ExitStandby, aws.md section 11).
 *
 * The command does the AWS calls; the daemon's lifecycle learns of
 * Standby from IMDS (target-lifecycle-state) as it does when standby is
 * entered from the console, and owns what follows: it keeps asg-health
 * drained in standby (across restarts) and undrains only once the group
 * has the instance InService again (lifecycle.h).  So the ordering the
 * operator needs is kept here: enter drains asg-health before
 * EnterStandby (after the cascade guard, guard.h), undoes the drain when
 * AWS refuses, and waits for Standby; exit calls ExitStandby and waits
 * for InService and for asg-health to be undrained (by the daemon, or
 * here when no daemon runs). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "autoscaling.h"
#include "cleanup.h"
#include "commands.h"
#include "guard.h"
#include "health-client.h"
#include "log.h"
#include "status.h"
#include "timeutil.h"

#define POLL_MS 500

static void aws_error(const char *what, int r, const struct aws_response *resp)
{
	fprintf(stderr, "asg-agent: %s failed: %s%s%s\n", what, resp->code,
	        resp->code[0] ? ": " : "", resp->message[0] ? resp->message : strerror(-r));
}

/* The daemon's lifecycle state, or "" when no daemon answers. */
static void daemon_state(const struct agent_config *cfg, char *out, size_t len)
{
	_cleanup_json_ json_t *doc = NULL;
	const char *s;

	out[0] = '\0';
	if (status_fetch(cfg->status_socket, &doc) < 0)
		return;
	s = json_string_value(json_object_get(json_object_get(doc, "lifecycle"), "state"));
	if (s)
		format_into(out, len, "%s", s);
}

/* Waits until the group has the instance in state want; 0, -ETIMEDOUT,
 * or -errno of a failed Describe (printed). */
static int wait_group_state(struct agent *a, const char *want, long long timeout_ms)
{
	uint64_t end = now_mono_ms() + (uint64_t)timeout_ms;
	char last[64] = "";

	for (;;) {
		struct asg_instance info;
		struct aws_response resp;
		int r = autoscaling_describe_instance_info(&a->aws, a->ident.id.instance_id, &info,
		                                           &resp);

		if (r < 0) {
			aws_error("DescribeAutoScalingInstances", r, &resp);
			aws_response_free(&resp);
			return r;
		}
		aws_response_free(&resp);
		if (strcmp(last, info.state)) {
			printf("%s is %s\n", a->ident.id.instance_id, info.state);
			fflush(stdout);
			format_into(last, sizeof(last), "%s", info.state);
		}
		if (!strcmp(info.state, want))
			return 0;
		if (now_mono_ms() >= end)
			return -ETIMEDOUT;
		sleep_ms(POLL_MS);
	}
}

/* Identity, region, credentials and group: what both need. */
static int open_instance(struct agent *a, const struct agent_config *cfg, struct asg_instance *info)
{
	struct aws_response resp;
	int r = agent_open(a, cfg, 0);

	if (r < 0) {
		fprintf(stderr, "asg-agent: cannot start: %s\n", strerror(-r));
		return r;
	}
	if (a->ident.imds != IMDS_OK || !a->aws_ready) {
		fprintf(stderr,
		        "asg-agent: %s: standby needs the instance's identity (IMDS) and a "
		        "region; see asg-agent doctor\n",
		        a->last_error[0] ? a->last_error : "no instance identity or region");
		return -ENXIO;
	}
	r = autoscaling_describe_instance_info(&a->aws, a->ident.id.instance_id, info, &resp);
	if (r == -ENOENT)
		fprintf(stderr, "asg-agent: %s is in no Auto Scaling group\n",
		        a->ident.id.instance_id);
	else if (r < 0)
		aws_error("DescribeAutoScalingInstances", r, &resp);
	aws_response_free(&resp);
	return r;
}

static int enter(const struct agent_config *cfg, bool decrement, bool force, long long timeout_ms)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	struct asg_instance info;
	struct aws_response resp;
	struct health_view hv;
	struct agent a;
	char why[1024], dstate[32];
	bool was_drained;
	long status = 0;
	int r, rc = 1;

	if (open_instance(&a, cfg, &info) < 0)
		goto out;
	if (!strcmp(info.state, "Standby") || !strcmp(info.state, "EnteringStandby")) {
		printf("%s is already %s\n", a.ident.id.instance_id, info.state);
		rc = 0;
		goto out;
	}
	if (strcmp(info.state, "InService")) {
		fprintf(stderr, "asg-agent: %s is %s; EnterStandby needs it InService\n",
		        a.ident.id.instance_id, info.state);
		goto out;
	}
	/* A drain under way (a termination, an interruption) is the daemon's. */
	daemon_state(cfg, dstate, sizeof(dstate));
	if (dstate[0] && strcmp(dstate, "ready")) {
		fprintf(stderr,
		        "asg-agent: the daemon's lifecycle is %s, not ready; not entering "
		        "standby\n",
		        dstate);
		goto out;
	}
	if (!force) {
		r = guard_check(&a, why, sizeof(why));
		if (r < 0) {
			fprintf(stderr, "asg-agent: refusing to enter standby: %s\n%s\n", why,
			        r == -EBUSY ? "Use --force to enter standby anyway."
			                    : "Use --force to enter standby without this check.");
			goto out;
		}
	}
	/* Drained first: the load balancer's checks fail before the group
	 * deregisters the instance, so nothing new arrives meanwhile. */
	was_drained = health_read(cfg->health_socket, 1, &hv) == 0 && hv.draining;
	r = health_control(cfg->health_socket, "POST", "/drain", &status, &body);
	if (r < 0 || status != 200)
		fprintf(stderr,
		        "asg-agent: warning: cannot drain asg-health at %s (%s); the group "
		        "deregisters the instance anyway\n",
		        cfg->health_socket, r < 0 ? strerror(-r) : "refused");
	else
		printf("asg-health drained\n");
	r = autoscaling_enter_standby(&a.aws, a.ident.asg_name, a.ident.id.instance_id, decrement,
	                              &resp);
	if (r < 0) {
		aws_error("EnterStandby", r, &resp);
		aws_response_free(&resp);
		if (!was_drained && health_set_drain(cfg->health_socket, false) == 0)
			printf("asg-health undrained again\n");
		goto out;
	}
	aws_response_free(&resp);
	printf("EnterStandby %s in %s (%s desired capacity)\n", a.ident.id.instance_id,
	       a.ident.asg_name, decrement ? "decrementing" : "keeping");
	/* EnteringStandby lasts the target groups' deregistration delay. */
	r = wait_group_state(&a, "Standby", timeout_ms);
	if (r == -ETIMEDOUT)
		fprintf(stderr, "asg-agent: not in Standby after %lld s\n", timeout_ms / 1000);
	if (r < 0)
		goto out;
	printf("%s is in standby: the group neither routes to nor replaces it\n",
	       a.ident.id.instance_id);
	rc = 0;
out:
	agent_close(&a);
	return rc;
}

static int leave(const struct agent_config *cfg, long long timeout_ms)
{
	struct asg_instance info;
	struct aws_response resp;
	struct health_view hv;
	struct agent a;
	char dstate[32];
	uint64_t end;
	int r, rc = 1;

	if (open_instance(&a, cfg, &info) < 0)
		goto out;
	if (!strcmp(info.state, "Standby")) {
		r = autoscaling_exit_standby(&a.aws, a.ident.asg_name, a.ident.id.instance_id,
		                             &resp);
		if (r < 0) {
			aws_error("ExitStandby", r, &resp);
			aws_response_free(&resp);
			goto out;
		}
		aws_response_free(&resp);
		printf("ExitStandby %s in %s\n", a.ident.id.instance_id, a.ident.asg_name);
	} else if (strcmp(info.state, "Pending") && strcmp(info.state, "InService")) {
		fprintf(stderr, "asg-agent: %s is %s, not in standby\n", a.ident.id.instance_id,
		        info.state);
		goto out;
	} else if (!strcmp(info.state, "InService")) {
		/* Already out: a second `exit` after a timeout goes on waiting
		 * for the daemon; anything else is a mistake that must not
		 * undrain an instance drained for another reason. */
		daemon_state(cfg, dstate, sizeof(dstate));
		if (dstate[0] && strcmp(dstate, "standby")) {
			fprintf(stderr, "asg-agent: %s is InService, not in standby\n",
			        a.ident.id.instance_id);
			goto out;
		}
	}
	r = wait_group_state(&a, "InService", timeout_ms);
	if (r == -ETIMEDOUT)
		fprintf(stderr, "asg-agent: not InService after %lld s\n", timeout_ms / 1000);
	if (r < 0)
		goto out;
	/* The daemon undrains once it has seen InService (its watch interval
	 * and a Describe); without a daemon, this command does. */
	end = now_mono_ms() + (uint64_t)(cfg->lc.watch_interval_ms * 4 + 10000);
	for (;;) {
		daemon_state(cfg, dstate, sizeof(dstate));
		if (!dstate[0]) {
			r = health_set_drain(cfg->health_socket, false);
			if (r < 0) {
				fprintf(stderr, "asg-agent: cannot undrain asg-health at %s: %s\n",
				        cfg->health_socket, strerror(-r));
				goto out;
			}
			break;
		}
		if (strcmp(dstate, "standby") && health_read(cfg->health_socket, 1, &hv) == 0 &&
		    !hv.draining)
			break;
		if (now_mono_ms() >= end) {
			fprintf(stderr,
			        "asg-agent: the daemon has not left standby (lifecycle %s); see "
			        "journalctl -u asg-agent\n",
			        dstate);
			goto out;
		}
		sleep_ms(POLL_MS);
	}
	printf("asg-health undrained: %s is serving again\n", a.ident.id.instance_id);
	rc = 0;
out:
	agent_close(&a);
	return rc;
}

int cmd_standby(const struct agent_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"decrement-desired-capacity", no_argument, NULL, 'd'},
	        {"force", no_argument, NULL, 'f'},
	        {"timeout", required_argument, NULL, 't'},
	        {NULL, 0, NULL, 0},
	};
	bool decrement = false, force = false;
	long long timeout_ms = 3700 * 1000LL; /* the longest deregistration delay, 3600 s */
	const char *what;
	char *end;
	int c;

	/* Quiet: the command prints its own findings. */
	log_set_level(LOG_ERR);
	optind = 0; /* glibc: start afresh after main()'s parsing */
	if (argc < 2 || (strcmp(argv[1], "enter") && strcmp(argv[1], "exit")))
		goto usage;
	what = argv[1];
	while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			decrement = true;
			break;
		case 'f':
			force = true;
			break;
		case 't':
			timeout_ms = strtoll(optarg, &end, 10) * 1000;
			if (*end || timeout_ms <= 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	if (!strcmp(what, "exit") && (decrement || force))
		goto usage;
	return !strcmp(what, "enter") ? enter(cfg, decrement, force, timeout_ms)
	                              : leave(cfg, timeout_ms);
usage:
	fprintf(stderr, "usage: asg-agent standby enter [--decrement-desired-capacity] [--force] "
	                "[--timeout SECONDS]\n"
	                "       asg-agent standby exit [--timeout SECONDS]\n");
	return 2;
}
