/* The running kernel's reset and drop reasons mapped onto synfin's own numbering. */
#ifndef SYNFIN_BPF_REASONS_H
#define SYNFIN_BPF_REASONS_H

/* ---- Reasons: the running kernel's enum values mapped onto synfin's own numbering ----
 * The kernel's enums are declared here under a ___synfin flavour, so the object builds on a
 * machine whose vmlinux.h lacks some names, and CO-RE resolves each name on the running
 * kernel; a name the kernel does not have is skipped, a value synfin does not know is OTHER. */
enum sk_rst_reason___synfin {
#define SYNFIN_KERNEL_RESET_NAME(name) SK_RST_REASON_##name##___synfin,
	SYNFIN_RESET_REASONS(SYNFIN_KERNEL_RESET_NAME)
#undef SYNFIN_KERNEL_RESET_NAME
};

enum skb_drop_reason___synfin {
	SKB_CONSUMED___synfin,
	SKB_NOT_DROPPED_YET___synfin,
#define SYNFIN_KERNEL_DROP_NAME(name) SKB_DROP_REASON_##name##___synfin,
	SYNFIN_DROP_REASONS(SYNFIN_KERNEL_DROP_NAME)
#undef SYNFIN_KERNEL_DROP_NAME
};

static __always_inline __u32 reset_reason_index(__u32 kernel_value)
{
#define SYNFIN_MAP_RESET(name)                                                                     \
	if (bpf_core_enum_value_exists(enum sk_rst_reason___synfin,                                \
				       SK_RST_REASON_##name##___synfin) &&                         \
	    kernel_value == bpf_core_enum_value(enum sk_rst_reason___synfin,                       \
						SK_RST_REASON_##name##___synfin))                  \
		return SYNFIN_RESET_##name;
	SYNFIN_RESET_REASONS(SYNFIN_MAP_RESET)
#undef SYNFIN_MAP_RESET
	return SYNFIN_RESET_REASON_OTHER;
}

static __always_inline __u32 drop_reason_index(__u32 kernel_value)
{
#define SYNFIN_MAP_DROP(name)                                                                      \
	if (bpf_core_enum_value_exists(enum skb_drop_reason___synfin,                              \
				       SKB_DROP_REASON_##name##___synfin) &&                       \
	    kernel_value == bpf_core_enum_value(enum skb_drop_reason___synfin,                     \
						SKB_DROP_REASON_##name##___synfin))                \
		return SYNFIN_DROP_##name;
	SYNFIN_DROP_REASONS(SYNFIN_MAP_DROP)
#undef SYNFIN_MAP_DROP
	return SYNFIN_DROP_REASON_OTHER;
}

/* Not drops: skb:kfree_skb fires with these on some kernels. */
static __always_inline bool is_consumed(__u32 kernel_value)
{
	if (bpf_core_enum_value_exists(enum skb_drop_reason___synfin, SKB_CONSUMED___synfin) &&
	    kernel_value ==
		    bpf_core_enum_value(enum skb_drop_reason___synfin, SKB_CONSUMED___synfin))
		return true;
	return bpf_core_enum_value_exists(enum skb_drop_reason___synfin,
					  SKB_NOT_DROPPED_YET___synfin) &&
	       kernel_value == bpf_core_enum_value(enum skb_drop_reason___synfin,
						   SKB_NOT_DROPPED_YET___synfin);
}

#endif
