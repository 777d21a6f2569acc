"""What synfin cannot report on the running kernel, as docs/guide.md's kernel table says: the
tests hold /healthz's `cannot_report` to exactly this."""
import os
import re

# The kernel each feature needs (docs/guide.md), by the key synfin_kernel_feature_available
# uses, and the words of its `cannot_report` line.
FEATURES = {
    "reset_reasons": ((6, 10), "reset reasons:"),
    "drop_reasons": ((5, 17), "kernel drop reasons:"),
    "drop_sockets": ((6, 11), "drops on the socket a packet was for"),
    "listen_refusals": ((6, 3), "listen-queue overflows per listener"),
}
# Not a matter of version: whether the kernel loads iter/bpf_sk_storage_map (the daemon's
# live view of other namespaces), as seen on the kernels the tests were run on.
STORAGE_ITERATOR = "live view of other network namespaces"
STORAGE_ITERATOR_REFUSED = {(6, 1): False, (6, 18): True}


def kernel_version():
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return int(match.group(1)), int(match.group(2))


def expected_missing(compact=False):
    """The keys of what this kernel cannot report; None for the storage iterator on a kernel
    never run (then not checked)."""
    version = kernel_version()
    missing = {key for key, (needs, _) in FEATURES.items() if version < needs}
    # Without drop reasons there is no drop line at all, only the one for drop reasons.
    if "drop_reasons" in missing:
        missing.discard("drop_sockets")
    if compact:
        refused = STORAGE_ITERATOR_REFUSED.get(version)
        if refused is None:
            return None
        if refused:
            missing.add("storage_iterator")
    return missing


def keys_of(lines):
    """Each cannot_report line's key; a line matching none (or several) is its own text."""
    words = {key: text for key, (_, text) in FEATURES.items()}
    words["storage_iterator"] = STORAGE_ITERATOR
    keys = []
    for line in lines:
        found = [key for key, text in words.items() if text in line]
        keys.append(found[0] if len(found) == 1 else line)
    return keys


def missing(key):
    """Whether this kernel lacks a version-bound feature."""
    return kernel_version() < FEATURES[key][0]
