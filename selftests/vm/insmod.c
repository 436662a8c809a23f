// SPDX-License-Identifier: GPL-2.0
/*
 * insmod for the hvlab test PC, built statically by selftests/vm/run and
 * installed as /sbin/insmod in place of busybox's applet.
 *
 * Busybox insmod retries with init_module(2) whenever finit_module(2) fails,
 * so a module whose init function fails has it called twice and the second
 * attempt's messages mix with the first's. This one calls finit_module once.
 *
 * usage: insmod FILE [PARAM=VALUE]...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = 1;
	char *params;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: insmod FILE [PARAM=VALUE]...\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	params = calloc(1, len);
	if (!params)
		return 1;
	for (i = 2; i < argc; i++) {
		if (i > 2)
			strcat(params, " ");
		strcat(params, argv[i]);
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "insmod: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (syscall(SYS_finit_module, fd, params, 0)) {
		fprintf(stderr, "insmod: cannot insert %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
