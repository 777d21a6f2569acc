/* Per-step records: accept() names a server-side socket's owner. Its state changes all ran in
 * softirq before anyone owned it. (The daemon's socket paths need no syscall hook: a child
 * inherits its listener's owner and whoever closes it names itself, lib/paths.h.) */
#ifndef SYNFIN_BPF_OWNERS_H
#define SYNFIN_BPF_OWNERS_H

/* accept() is where a server-side socket gets its owner; its state changes all ran in
 * softirq before anyone owned it. Resolve fd → file → socket → sock of the caller. The fd
 * table's entries are plain addresses, not BTF pointers, so from there on every field is a
 * probe read (a kfunc that types them, bpf_rdonly_cast, needs 6.2). */
static __always_inline int record_accepted_socket(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & SYNFIN_S_IFMT) != SYNFIN_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != SYNFIN_IPPROTO_TCP)
		return 0;
	/* The state-change program already assigned the cookie when the child was created. */
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return 0;
	const struct sock_common *skc = &sk->__sk_common;
	__u16 family = BPF_CORE_READ(skc, skc_family);
	__u16 local_port = BPF_CORE_READ(skc, skc_num);
	__u16 remote_port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (!endpoints_wanted(family, local_port, remote_port, cookie))
		return 0;
	struct synfin_event *e = reserve_event(SYNFIN_EV_ACCEPT);
	if (!e)
		return 0;
	e->cookie = cookie;
	name_owner(e);
	e->family = family;
	e->sport = local_port;
	e->dport = remote_port;
	if (family == SYNFIN_AF_INET) {
		bpf_core_read(e->saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &skc->skc_v6_daddr);
	}
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	submit_event(e);
	return 0;
}

#endif
