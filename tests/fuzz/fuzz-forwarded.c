/* X-Forwarded-For and trusted_proxies (health/forwarded.h), and the access
 * log's escaping of what a client sends (health/access-log.h).  Input: the
 * peer address on the first line, trusted networks separated by spaces on
 * the second, the X-Forwarded-For value on the third.
 *
 * Invariants: a network that parses contains its own address and formats
 * back to itself; the client is the peer or an entry of the header, every
 * entry right of it is a trusted address, and it is the first untrusted one
 * from the right (or the leftmost, or the last trusted hop before an entry
 * that is no address); an escaped value is printable ASCII without '"', so
 * a log line made of it is one line. */
#include <errno.h>

#include "access-log.h"
#include "forwarded.h"
#include "fuzz.h"

#define MAX_NETS 16

static bool trusted(const struct cidr *nets, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&nets[i], a))
			return true;
	return false;
}

static bool same(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && !memcmp(a->bytes, b->bytes, 16);
}

/* The expected client, walking the entries from the right (the spec). */
static struct ip_addr expected(const char *xff, const struct ip_addr *peer, const struct cidr *nets,
                               size_t n)
{
	struct ip_addr client = *peer;
	char *copy = xff ? strdup(xff) : NULL, *end;

	if (!copy)
		return client;
	end = copy + strlen(copy);
	for (;;) {
		char *comma = NULL, *a, *b;
		struct ip_addr e;

		for (char *p = end; p > copy; p--)
			if (p[-1] == ',') {
				comma = p - 1;
				break;
			}
		a = comma ? comma + 1 : copy;
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a < b) {
			if (ip_addr_parse(a, (size_t)(b - a), &e) < 0)
				break;
			client = e;
			if (!trusted(nets, n, &e))
				break;
		}
		if (!comma)
			break;
		end = comma;
	}
	free(copy);
	return client;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[3], *buf = fuzz_fields(data, size, f, 3), *save = NULL, *tok;
	struct cidr nets[MAX_NETS];
	struct ip_addr peer, client, want;
	size_t n = 0;

	if (!f[0] || ip_addr_parse(f[0], strlen(f[0]), &peer) < 0)
		memset(&peer, 0, sizeof(peer)), peer.family = AF_INET;
	for (tok = f[1] ? strtok_r(f[1], " ", &save) : NULL; tok && n < MAX_NETS;
	     tok = strtok_r(NULL, " ", &save)) {
		const char *why = NULL;
		char text[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
		struct cidr again;

		if (cidr_parse(tok, &nets[n], &why) < 0) {
			FUZZ_ASSERT(why != NULL);
			continue;
		}
		FUZZ_ASSERT(cidr_contains(&nets[n], &nets[n].net));
		ip_addr_format(&nets[n].net, addr, sizeof(addr));
		snprintf(text, sizeof(text), "%s/%u", addr, nets[n].prefix);
		FUZZ_ASSERT(cidr_parse(text, &again, &why) == 0);
		FUZZ_ASSERT(same(&again.net, &nets[n].net) && again.prefix == nets[n].prefix);
		n++;
	}
	forwarded_client(f[2], &peer, nets, n, &client);
	want = expected(f[2], &peer, nets, n);
	FUZZ_ASSERT(same(&client, &want));
	FUZZ_ASSERT(client.family == AF_INET || client.family == AF_INET6);

	if (f[2]) {
		size_t len = strlen(f[2]), cap = 4 * len + 1, o;
		char *out = malloc(cap);
		if (!out)
			abort();
		o = access_escape(f[2], len, out, cap);
		FUZZ_ASSERT(o == strlen(out));
		for (size_t i = 0; i < o; i++)
			FUZZ_ASSERT(out[i] >= 0x20 && out[i] < 0x7f && out[i] != '"');
		free(out);
	}
	free(buf);
	return 0;
}
