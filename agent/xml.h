/* A small read-only XML tree built with expat, for the AWS Query
 * protocol's responses and errors.  Namespaces are dropped (element local
 * names only), attributes ignored, and text trimmed: that is all the Query
 * responses need.  Limits guard against a hostile or broken peer. */
#ifndef ASG_AGENT_XML_H
#define ASG_AGENT_XML_H

#include <stddef.h>

struct xml_node {
	char *name;                /* owned, local name without namespace */
	char *text;                /* owned, trimmed character data ("" if none) */
	struct xml_node *parent;   /* not owned */
	struct xml_node *children; /* owned list */
	struct xml_node *next;     /* owned by the parent's list */
};

/* Parses len bytes.  Returns 0 and the root element, -EBADMSG for
 * malformed XML, -E2BIG past the depth or node limits, -ENOMEM. */
int xml_parse(const char *data, size_t len, struct xml_node **root);
void xml_free(struct xml_node *node);

/* First descendant along a '/'-separated path of child names, starting at
 * node's children ("Error/Code"); NULL if absent. */
const struct xml_node *xml_find(const struct xml_node *node, const char *path);
/* Text of xml_find(node, path), or NULL. */
const char *xml_find_text(const struct xml_node *node, const char *path);
/* The next sibling with the same name as n, for "member" lists. */
const struct xml_node *xml_next_named(const struct xml_node *n);

#endif
