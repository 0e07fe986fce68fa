// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpulse-jitlines PROG_ID: a loaded BPF program's JIT line table, one line per source
 * line record: "offset<TAB>file:line<TAB>source", offset in hex from the program's start.
 * `perf script` names samples in a program as bpf_prog_<tag>_<name>+0x<offset>: with this
 * table they become source lines (scripts/bench.sh hotspots). bpftool prints the same
 * with "dump jited linum", but only when built with a disassembler, which Debian's is not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nlines, njited, nsyms, btf_id, i;
	struct bpf_line_info *lines;
	__u64 *jited, *syms;
	__u32 main_len;
	struct btf *btf;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PROG_ID\n", argv[0]);
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(atoi(argv[1]));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "%s: program %s: %s\n", argv[0], argv[1], strerror(errno));
		return 1;
	}
	nlines = info.nr_line_info;
	njited = info.nr_jited_line_info;
	nsyms = info.nr_jited_ksyms;
	btf_id = info.btf_id;
	if (!nlines || njited != nlines || !nsyms || !btf_id) {
		fprintf(stderr, "%s: program %s has no JIT line info (not JITed, or loaded without BTF)\n",
			argv[0], argv[1]);
		return 1;
	}
	lines = calloc(nlines, sizeof(*lines));
	jited = calloc(njited, sizeof(*jited));
	syms = calloc(nsyms, sizeof(*syms));
	if (!lines || !jited || !syms)
		return 1;
	/* the second call fills in the arrays the first one sized */
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nlines;
	info.line_info_rec_size = sizeof(*lines);
	info.line_info = (__u64)(unsigned long)lines;
	info.nr_jited_line_info = njited;
	info.jited_line_info_rec_size = sizeof(*jited);
	info.jited_line_info = (__u64)(unsigned long)jited;
	info.nr_jited_ksyms = nsyms;
	info.jited_ksyms = (__u64)(unsigned long)syms;
	info.nr_jited_func_lens = 1; /* the main program's, first */
	info.jited_func_lens = (__u64)(unsigned long)&main_len;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "%s: program %s: %s\n", argv[0], argv[1], strerror(errno));
		return 1;
	}
	btf = btf__load_from_kernel_by_id(btf_id);
	if (!btf) {
		fprintf(stderr, "%s: program %s: its BTF: %s\n", argv[0], argv[1], strerror(errno));
		return 1;
	}
	/* offsets from the main program's start: subprograms have images of their own, skipped */
	for (i = 0; i < nlines; i++) {
		const char *src = btf__name_by_offset(btf, lines[i].line_off);
		const char *file = btf__name_by_offset(btf, lines[i].file_name_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		if (jited[i] < syms[0] || jited[i] - syms[0] >= main_len)
			continue;
		printf("%llx\t%s:%u\t%s\n", (unsigned long long)(jited[i] - syms[0]),
		       base ? base + 1 : file ? file : "?", BPF_LINE_INFO_LINE_NUM(lines[i].line_col), src ? src : "");
	}
	btf__free(btf);
	return 0;
}
