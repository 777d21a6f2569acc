/* Constants the BPF side needs that vmlinux.h does not carry (macros are not in BTF). */
#ifndef SYNFIN_BPF_H
#define SYNFIN_BPF_H

#define SYNFIN_IPPROTO_TCP 6
#define SYNFIN_SOCK_STREAM 1
#define SYNFIN_MAX_CPUS 256
#define SYNFIN_SKB_DST_NOREF 1UL
#define SYNFIN_ETH_P_IP 0x0800
#define SYNFIN_ETH_P_IPV6 0x86DD

#define SYNFIN_S_IFMT 00170000
#define SYNFIN_S_IFSOCK 0140000

/* TCP states: synfin/tcp_life.h (shared with the model). */

#endif
