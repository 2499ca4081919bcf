/* expat-based XML tree (see xml.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "strbuf.h"
#include "xml.h"

#define XML_MAX_DEPTH 32
#define XML_MAX_NODES 100000

struct xml_builder {
	XML_Parser parser;
	struct xml_node *root;
	struct xml_node *cur;
	struct xml_node *last_child[XML_MAX_DEPTH + 1]; /* append point per depth */
	struct strbuf text[XML_MAX_DEPTH + 1];
	int depth;
	size_t nodes;
	int error;
};

static const char *local_name(const char *name)
{
	/* XML_ParserCreateNS joins namespace and name with '\x01'. */
	const char *sep = strrchr(name, '\x01');
	return sep ? sep + 1 : name;
}

static void stop(struct xml_builder *b, int err)
{
	if (!b->error)
		b->error = err;
	XML_StopParser(b->parser, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_builder *b = ud;
	struct xml_node *n;

	if (b->error)
		return;
	if (b->depth >= XML_MAX_DEPTH || ++b->nodes > XML_MAX_NODES) {
		stop(b, -E2BIG);
		return;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(local_name(name)))) {
		free(n);
		stop(b, -ENOMEM);
		return;
	}
	n->parent = b->cur;
	if (!b->cur)
		b->root = n;
	else if (b->last_child[b->depth])
		b->last_child[b->depth]->next = n;
	else
		b->cur->children = n;
	if (b->cur)
		b->last_child[b->depth] = n;
	b->depth++;
	b->last_child[b->depth] = NULL;
	strbuf_reset(&b->text[b->depth]);
	b->cur = n;
}

static char *trimmed_copy(const struct strbuf *sb)
{
	const char *s = strbuf_str(sb);
	size_t n = sb->len;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

static void on_end(void *ud, const XML_Char *name)
{
	struct xml_builder *b = ud;

	if (b->error || !b->cur)
		return;
	b->cur->text = trimmed_copy(&b->text[b->depth]);
	if (!b->cur->text) {
		stop(b, -ENOMEM);
		return;
	}
	b->depth--;
	b->cur = b->cur->parent;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct xml_builder *b = ud;

	if (b->error || !b->cur)
		return;
	strbuf_append_len(&b->text[b->depth], s, (size_t)len);
	if (strbuf_error(&b->text[b->depth]))
		stop(b, -ENOMEM);
}

int xml_parse(const char *data, size_t len, struct xml_node **root)
{
	struct xml_builder b;
	enum XML_Status st;

	memset(&b, 0, sizeof(b));
	*root = NULL;
	b.parser = XML_ParserCreateNS(NULL, '\x01');
	if (!b.parser)
		return -ENOMEM;
	XML_SetUserData(b.parser, &b);
	XML_SetElementHandler(b.parser, on_start, on_end);
	XML_SetCharacterDataHandler(b.parser, on_text);
	st = XML_Parse(b.parser, data, (int)len, XML_TRUE);
	if (st != XML_STATUS_OK && !b.error)
		b.error = -EBADMSG;
	if (!b.error && (!b.root || b.cur))
		b.error = -EBADMSG;
	XML_ParserFree(b.parser);
	for (int i = 0; i <= XML_MAX_DEPTH; i++)
		strbuf_free(&b.text[i]);
	if (b.error) {
		xml_free(b.root);
		return b.error;
	}
	*root = b.root;
	return 0;
}

void xml_free(struct xml_node *node)
{
	while (node) {
		struct xml_node *next = node->next;

		xml_free(node->children);
		free(node->name);
		free(node->text);
		free(node);
		node = next;
	}
}

const struct xml_node *xml_find(const struct xml_node *node, const char *path)
{
	while (node && *path) {
		size_t len = strcspn(path, "/");
		const struct xml_node *c;

		for (c = node->children; c; c = c->next)
			if (strlen(c->name) == len && !strncmp(c->name, path, len))
				break;
		node = c;
		path += len;
		if (*path == '/')
			path++;
	}
	return node;
}

const char *xml_find_text(const struct xml_node *node, const char *path)
{
	const struct xml_node *n = xml_find(node, path);
	return n ? n->text : NULL;
}

const struct xml_node *xml_next_named(const struct xml_node *n)
{
	for (const struct xml_node *s = n->next; s; s = s->next)
		if (!strcmp(s->name, n->name))
			return s;
	return NULL;
}
