/* Non-cryptographic randomness for backoff and publish jitter, seeded
 * from getrandom(2) so a fleet started at once does not move in step. */
#ifndef ASG_AGENT_RANDOM_H
#define ASG_AGENT_RANDOM_H

#include <stdint.h>

/* Uniform in [0, 1). */
double random_unit(void);
/* Uniform in [0, n) (0 when n is 0). */
uint64_t random_below(uint64_t n);

#endif
