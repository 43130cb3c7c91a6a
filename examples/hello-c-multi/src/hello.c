/* hello: greets, and with --check verifies it runs where it was built. */
#include <stdio.h>
#include <string.h>
#include <gnu/libc-version.h>

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--check") == 0) {
		printf("ok: glibc %s\n", gnu_get_libc_version());
		return 0;
	}
	printf("hello from C, built by kiln from Debian packages\n");
	return 0;
}
