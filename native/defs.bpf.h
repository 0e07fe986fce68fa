/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPULSE_DEFS_BPF_H
#define __TCPULSE_DEFS_BPF_H

/* kernel constants the programs use (enums in vmlinux.h; named here for clarity) */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2
#define NSEC_PER_SEC 1000000000ULL

/* TCP_* numbers from include/net/tcp_states.h */
#define S_ESTABLISHED 1
#define S_SYN_SENT 2
#define S_SYN_RECV 3
#define S_FIN_WAIT2 5
#define S_TIME_WAIT 6
#define S_CLOSE 7
#define S_LISTEN 10
#define S_CLOSING 11
#define S_NEW_SYN_RECV 12

#endif /* __TCPULSE_DEFS_BPF_H */
