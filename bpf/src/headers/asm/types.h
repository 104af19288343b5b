/* Architecture-neutral shim so that clang -target bpf finds the UAPI headers without a multiarch include path. */
#include <asm-generic/types.h>
