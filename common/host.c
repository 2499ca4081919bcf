/* See host.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "host.h"

bool host_is_loopback(const char *host)
{
	char buf[256];
	size_t n = strlen(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
	} else if (n < sizeof(buf)) {
		memcpy(buf, host, n + 1);
	} else {
		return false;
	}
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '.') /* "localhost." is localhost */
		buf[--n] = '\0';
	/* RFC 6761 6.3: localhost and its subdomains are loopback. */
	if (!strcasecmp(buf, "localhost") || (n > 10 && !strcasecmp(buf + n - 10, ".localhost")))
		return true;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
