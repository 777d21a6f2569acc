/* When a ring record wakes its consumer. Records are submitted without a wakeup: the consumer
 * drains on its own interval. Once the ring holds `threshold` bytes it is woken early, but at
 * most once per SYNFIN_FORCED_WAKEUP_GAP_NS: each forced wakeup queues an irq_work, which is a
 * self-IPI on the submitting CPU, and while the woken consumer waits for a CPU every record
 * would raise another (measured: 3.6% of a loopback churn's CPU in the APIC write alone). */
#ifndef SYNFIN_RING_WAKEUP_H
#define SYNFIN_RING_WAKEUP_H

#define SYNFIN_FORCED_WAKEUP_GAP_NS 1000000ULL

/* Shared by every CPU; a lost race only means one more or one fewer wakeup. */
static __u64 ring_last_forced_wakeup_ns;

static __always_inline __u64 ring_submit_flags(void *ring, __u64 threshold, __u64 now_ns)
{
	/* Signed: another CPU may have stored a time later than this record's stamp. */
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) < threshold ||
	    (__s64)(now_ns - ring_last_forced_wakeup_ns) < (__s64)SYNFIN_FORCED_WAKEUP_GAP_NS)
		return BPF_RB_NO_WAKEUP;
	ring_last_forced_wakeup_ns = now_ns;
	return BPF_RB_FORCE_WAKEUP;
}

#endif
