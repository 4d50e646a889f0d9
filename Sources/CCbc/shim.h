// The COIN-OR CBC C API (Debian/Ubuntu: coinor-libcbc-dev); pkg-config `cbc` adds the include
// path and the linker flags.
#include <coin/Cbc_C_Interface.h>
