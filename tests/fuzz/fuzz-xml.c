/* AWS Query XML responses (agent/xml.h): parse, then every lookup the
 * agent makes on a response (hooks, target groups, the instance's group,
 * member lists), and a full walk of the tree (parent links, names, text
 * all set, depth within the parser's limit). */
#include <errno.h>

#include "fuzz.h"
#include "xml.h"

static const char *const paths[] = {
        "DescribeLifecycleHooksResult/LifecycleHooks/member",
        "DescribeAutoScalingGroupsResult/AutoScalingGroups/member",
        "DescribeAutoScalingInstancesResult/AutoScalingInstances/member",
        "DescribeTargetHealthResult/TargetHealthDescriptions/member",
        "ResponseMetadata/RequestId",
        "Error/Code",
        "Errors/Error/Message",
        "a/b/c/d/e/f/g/h",
        "",
        "/",
        "member//x",
};

static size_t walk(const struct xml_node *n, const struct xml_node *parent, int depth)
{
	size_t count = 0;

	FUZZ_ASSERT(depth < 1000);
	for (; n; n = n->next) {
		FUZZ_ASSERT(n->name && n->text);
		FUZZ_ASSERT(n->parent == parent);
		count += 1 + walk(n->children, n, depth + 1);
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = malloc(size ? size : 1);
	struct xml_node *root = NULL;
	int r;

	if (!xml)
		abort();
	memcpy(xml, data, size);
	r = xml_parse(xml, size, &root);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
	if (r == 0) {
		FUZZ_ASSERT(root);
		(void)walk(root, NULL, 0);
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			const struct xml_node *m = xml_find(root, paths[i]);
			for (int k = 0; m && k < 100; k++, m = xml_next_named(m)) {
				(void)xml_find_text(m, "LifecycleHookName");
				(void)xml_find_text(m, "HeartbeatTimeout");
				(void)xml_find(m, "TargetGroupARNs/member");
			}
			(void)xml_find_text(root, paths[i]);
		}
		xml_free(root);
	} else {
		FUZZ_ASSERT(!root);
	}
	free(xml);
	return 0;
}
