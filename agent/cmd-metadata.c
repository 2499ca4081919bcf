/* `asg-agent metadata [PATH]`: instance metadata through IMDSv2, like
 * ec2-metadata.  Without PATH, a summary of the identity. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "imds.h"
#include "strbuf.h"

static int print_path(struct imds_client *imds, const char *path)
{
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r = imds_get(imds, path, &out);

	if (r == -ENOENT) {
		fprintf(stderr, "asg-agent: metadata %s: not found (404)\n", path);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "asg-agent: metadata %s: %s\n", path, imds->last_error);
		return 1;
	}
	fwrite(strbuf_str(&out), 1, out.len, stdout);
	if (!out.len || out.data[out.len - 1] != '\n')
		putchar('\n');
	return 0;
}

static int print_summary(struct imds_client *imds)
{
	struct imds_identity id;
	int r = imds_read_identity(imds, &id);

	if (r < 0) {
		fprintf(stderr, "asg-agent: cannot read the identity: %s\n", imds->last_error);
		return 1;
	}
	printf("instance-id: %s\n", id.instance_id);
	printf("instance-type: %s\n", id.instance_type);
	printf("instance-life-cycle: %s\n", id.life_cycle);
	printf("availability-zone: %s\n", id.availability_zone);
	printf("region: %s\n", id.region);
	printf("account-id: %s\n", id.account_id);
	printf("image-id: %s\n", id.image_id);
	printf("private-ip: %s\n", id.private_ip);
	return 0;
}

int cmd_metadata(const struct agent_config *cfg, int argc, char **argv)
{
	struct imds_client imds;
	int rc, r;

	if (argc > 2) {
		fprintf(stderr, "usage: asg-agent metadata [PATH]\n");
		return 2;
	}
	r = imds_client_init(&imds, cfg->imds_endpoint, (int)cfg->imds_token_ttl_s);
	if (r < 0) {
		fprintf(stderr, "asg-agent: %s\n", strerror(-r));
		return 1;
	}
	if (imds.disabled) {
		fprintf(stderr, "asg-agent: IMDS is disabled (AWS_EC2_METADATA_DISABLED=true)\n");
		rc = 1;
	} else {
		rc = argc == 2 ? print_path(&imds, argv[1]) : print_summary(&imds);
	}
	imds_client_free(&imds);
	return rc;
}
