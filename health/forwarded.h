/* Who the client is behind proxies: X-Forwarded-For read from the right,
 * skipping the hops we trust (the peer that connected, which is the load
 * balancer, and trusted_proxies, e.g. CloudFront's origin-facing ranges).
 * Each proxy appends the address it got the request from, so only the
 * entries our own proxies appended are true; everything left of the first
 * untrusted one is whatever the client wrote (aws.md 8.6).  Pure
 * functions: parsing and deciding only, no I/O. */
#ifndef ASG_HEALTH_FORWARDED_H
#define ASG_HEALTH_FORWARDED_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 address; IPv4-mapped IPv6 (::ffff:a.b.c.d, what a
 * dual-stack socket reports for an IPv4 peer) is held as IPv4. */
struct ip_addr {
	int family; /* AF_INET or AF_INET6; 0: none */
	uint8_t bytes[16];
};

/* A network: address and prefix length (host bits zero). */
struct cidr {
	struct ip_addr net;
	unsigned prefix;
};

/* Parses "a.b.c.d", "x:y::z", "[x::y]", "[x::y]:port" or "a.b.c.d:port"
 * (what proxies write into X-Forwarded-For); len bytes of s.  0 or
 * -EINVAL. */
int ip_addr_parse(const char *s, size_t len, struct ip_addr *out);
/* From a socket address (the connected peer); -EAFNOSUPPORT otherwise. */
int ip_addr_from_sockaddr(const struct sockaddr *sa, struct ip_addr *out);
/* The canonical text (inet_ntop), at least INET6_ADDRSTRLEN bytes. */
void ip_addr_format(const struct ip_addr *a, char *buf, size_t len);

/* Parses "10.0.0.0/8", "2600:9000::/28" or a single address (a /32 or
 * /128).  On error returns -EINVAL and sets *why to a reason for the
 * operator (a static string). */
int cidr_parse(const char *s, struct cidr *out, const char **why);
bool cidr_contains(const struct cidr *c, const struct ip_addr *a);

/* The client of a request that came from peer with the X-Forwarded-For
 * value xff (NULL or "" for none; several headers joined by ", " in
 * order).  From the right: the peer is a trusted hop; each entry is the
 * address the hop before appended; the first address that is not in
 * trusted[] is the client.  If every entry is trusted, the leftmost one is
 * the client; an entry that is not an address ends the walk at the last
 * trusted hop (nothing behind it can be believed).  Never fails: without a
 * header the client is the peer. */
void forwarded_client(const char *xff, const struct ip_addr *peer, const struct cidr *trusted,
                      size_t n_trusted, struct ip_addr *client);

#endif
