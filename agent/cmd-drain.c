/* `asg-agent drain|undrain`: POST /drain or /undrain to asg-health's
 * control socket (HTTP over AF_UNIX, CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "http.h"

int health_control(const char *socket_path, const char *method, const char *path, long *status,
                   struct strbuf *body)
{
	struct http_client http;
	struct http_response resp;
	char url[256];
	int r;

	r = http_client_init(&http);
	if (r < 0)
		return r;
	/* The host part is ignored over a Unix socket; "localhost" keeps
	 * the Host header valid. */
	format_into(url, sizeof(url), "http://localhost%s", path);
	struct http_request req = {.method = method,
	                           .url = url,
	                           .unix_socket = socket_path,
	                           .connect_timeout_ms = 2000,
	                           .timeout_ms = 5000,
	                           .no_proxy = true};
	r = http_perform(&http, &req, &resp);
	if (r == 0) {
		*status = resp.status;
		strbuf_append_len(body, resp.body.data, resp.body.len);
		r = strbuf_error(body);
	}
	http_response_free(&resp);
	http_client_free(&http);
	return r;
}

int cmd_drain(const struct agent_config *cfg, const char *path)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r = health_control(cfg->health_socket, "POST", path, &status, &body);

	if (r < 0) {
		fprintf(stderr,
		        "asg-agent: cannot reach asg-health at %s: %s\n"
		        "Is it running?  systemctl status asg-health\n",
		        cfg->health_socket, strerror(-r));
		return 1;
	}
	fwrite(strbuf_str(&body), 1, body.len, stdout);
	if (body.len && body.data[body.len - 1] != '\n')
		putchar('\n');
	if (status < 200 || status >= 300) {
		fprintf(stderr, "asg-agent: asg-health answered %s with HTTP %ld\n", path, status);
		return 1;
	}
	return 0;
}
