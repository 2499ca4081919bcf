/* asg-health's configuration file (health/config.c with the checks schema
 * of health/checks-config.c): parse, and on success dump it back and parse
 * the dump, which must give the same configuration.  A rejection names
 * the file and stays on one line. */
#include "config.h"
#include "fuzz.h"

/* A header value the server will send has no control character but
 * horizontal tab, which RFC 9110 5.5 allows in a field value (issue 9
 * item 9: a CR/LF in cache_control made every file answer 500). */
static void check_header_value(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
		FUZZ_ASSERT((*p >= 0x20 || *p == '\t') && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct health_config cfg, again;
	char err[1024] = "", err2[1024] = "";

	if (health_config_parse(&cfg, "health.json", text, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(!strncmp(err, "health.json", 11));
		FUZZ_ASSERT(!strchr(err, '\n'));
	} else {
		char *dump = health_config_dump(&cfg), *dump2;
		(void)health_config_cache_control(&cfg, "/assets/app.css");
		(void)health_config_cache_control(&cfg, "/index.html");
		FUZZ_ASSERT(dump);
		check_header_value(cfg.default_cache_control);
		for (size_t i = 0; i < cfg.n_cache_rules; i++)
			check_header_value(cfg.cache_rules[i].value);
		if (health_config_parse(&again, "dump.json", dump, err2, sizeof(err2)) == 0) {
			dump2 = health_config_dump(&again);
			FUZZ_ASSERT(dump2 && !strcmp(dump, dump2));
			free(dump2);
			health_config_free(&again);
		}
		free(dump);
		health_config_free(&cfg);
	}
	free(text);
	return 0;
}
