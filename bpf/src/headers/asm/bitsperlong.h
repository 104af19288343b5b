/* See types.h. */
#include <asm-generic/bitsperlong.h>
