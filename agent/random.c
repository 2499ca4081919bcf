/* xorshift64* seeded once from getrandom (see random.h). */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "random.h"

static uint64_t state;

static uint64_t next(void)
{
	if (!state) {
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state) || !state)
			state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
			        0x9e3779b97f4a7c15u;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dULL;
}

double random_unit(void)
{
	return (double)(next() >> 11) / 9007199254740992.0;
}

uint64_t random_below(uint64_t n)
{
	return n ? next() % n : 0;
}
