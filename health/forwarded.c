/* X-Forwarded-For and trusted proxies (forwarded.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarded.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_v6(struct ip_addr *a, const uint8_t bytes[16])
{
	memset(a, 0, sizeof(*a));
	if (!memcmp(bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix))) {
		a->family = AF_INET;
		memcpy(a->bytes, bytes + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->bytes, bytes, 16);
	}
}

static bool all_digits(const char *s, size_t len)
{
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int ip_addr_parse(const char *s, size_t len, struct ip_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t bytes[16];
	const char *colon;

	/* "[v6]" or "[v6]:port" */
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		size_t rest;
		if (!close)
			return -EINVAL;
		rest = len - (size_t)(close + 1 - s);
		if (rest && (close[1] != ':' || !all_digits(close + 2, rest - 1)))
			return -EINVAL;
		s++;
		len = (size_t)(close - s);
		if (len == 0 || !memchr(s, ':', len))
			return -EINVAL;
	} else if ((colon = memchr(s, ':', len)) &&
	           !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
		/* one colon: "a.b.c.d:port" */
		if (!all_digits(colon + 1, len - (size_t)(colon + 1 - s)))
			return -EINVAL;
		len = (size_t)(colon - s);
	}
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, bytes) == 1) {
		out->family = AF_INET;
		memcpy(out->bytes, bytes, 4);
		return 0;
	}
	if (strchr(buf, '%')) /* a zone index names a link, not a client */
		return -EINVAL;
	if (inet_pton(AF_INET6, buf, bytes) == 1) {
		set_v6(out, bytes);
		return 0;
	}
	return -EINVAL;
}

int ip_addr_from_sockaddr(const struct sockaddr *sa, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!sa)
		return -EAFNOSUPPORT;
	if (sa->sa_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		set_v6(out, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void ip_addr_format(const struct ip_addr *a, char *buf, size_t len)
{
	if (!a->family || !inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "-");
}

int cidr_parse(const char *s, struct cidr *out, const char **why)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits = 0;

	memset(out, 0, sizeof(*out));
	/* No brackets or ports here: a network, not a hop.  An IPv4 address
	 * written with a colon is "a.b.c.d:port" or "::ffff:a.b.c.d", whose
	 * prefix length would count IPv6 bits. */
	if (memchr(s, '[', alen) || ip_addr_parse(s, alen, &out->net) < 0 ||
	    (out->net.family == AF_INET && memchr(s, ':', alen))) {
		*why = "expected an IPv4 or IPv6 address or network, e.g. \"10.0.0.0/8\" or "
		       "\"2600:9000::/28\"";
		return -EINVAL;
	}
	max = out->net.family == AF_INET ? 32 : 128;
	if (!slash) {
		out->prefix = max;
		return 0;
	}
	if (!all_digits(slash + 1, strlen(slash + 1)) || strlen(slash + 1) > 3 ||
	    (bits = (unsigned)atoi(slash + 1)) > max) {
		*why = out->net.family == AF_INET ? "the prefix length must be 0 to 32"
		                                  : "the prefix length must be 0 to 128";
		return -EINVAL;
	}
	out->prefix = bits;
	for (unsigned i = bits; i < max; i++)
		if (out->net.bytes[i / 8] & (0x80u >> (i % 8))) {
			*why = "host bits are set after the prefix: give the network address "
			       "(e.g. 10.0.0.0/8, not 10.1.2.3/8)";
			return -EINVAL;
		}
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct ip_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->net.family != a->family)
		return false;
	if (memcmp(c->net.bytes, a->bytes, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);
		if ((c->net.bytes[full] & mask) != (a->bytes[full] & mask))
			return false;
	}
	return true;
}

static bool trusted_hop(const struct ip_addr *a, const struct cidr *trusted, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&trusted[i], a))
			return true;
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

void forwarded_client(const char *xff, const struct ip_addr *peer, const struct cidr *trusted,
                      size_t n_trusted, struct ip_addr *client)
{
	const char *end = xff ? xff + strlen(xff) : NULL;

	*client = *peer;
	if (!xff)
		return;
	/* The peer appended the last entry: it is a hop we trust (the
	 * load balancer), so walk from the right while the address just
	 * taken is trusted. */
	while (end > xff) {
		const char *start = end, *a, *b;
		struct ip_addr entry;

		while (start > xff && start[-1] != ',')
			start--;
		a = start;
		b = end;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		end = start > xff ? start - 1 : xff;
		if (a == b) /* an empty element ("a,,b"): skip it */
			continue;
		if (ip_addr_parse(a, (size_t)(b - a), &entry) < 0)
			return; /* not an address: the last trusted hop stands */
		*client = entry;
		if (!trusted_hop(&entry, trusted, n_trusted))
			return;
	}
}
