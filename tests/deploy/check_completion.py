#!/usr/bin/env python3
"""The bash completion (contrib/bash-completion/synfin) against the binary's own --help, run
through bash the way readline calls it: `synfin <TAB>` offers exactly the subcommands of
`synfin --help`; `synfin CMD -<TAB>` offers exactly the flags `synfin CMD --help` lists (a flag
added without its completion fails here, and so does a completion for a flag that is gone);
a flag whose help shows a closed set of values ({a,b,c}) completes to exactly that set.

usage: check_completion.py SYNFIN COMPLETION_FILE"""
import re
import subprocess
import sys


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def help_text(synfin, *command):
    r = subprocess.run([synfin, *command, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"synfin {' '.join(command)} --help exited {r.returncode}")
    return r.stdout


def subcommands(synfin):
    listing = help_text(synfin).split("\nSubcommands:\n", 1)
    if len(listing) != 2:
        fail("synfin --help lists no subcommands")
    return re.findall(r"^  ([a-z]+) ", listing[1], re.M)


def options(synfin, command):
    """{flag: closed value set or None} from the Options: section of `synfin CMD --help`."""
    found = {}
    for line in help_text(synfin, command).splitlines():
        if not re.match(r"^  -", line):
            continue
        names = line.split()[0].split(",")
        values = re.search(r":\{([^}]*)\}", line)
        for name in names:
            found[name] = set(values.group(1).split(",")) if values else None
    return found


def complete(completion, *words):
    """COMPREPLY for the command line `words`, the last one being completed."""
    script = (f"source {completion}\n"
              f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
              "_synfin 2>/dev/null\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True)
    if r.returncode != 0:
        fail(f"bash completion of {words}: {r.stderr}")
    return {line for line in r.stdout.splitlines() if line}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    synfin, completion = sys.argv[1:]
    commands = subcommands(synfin)
    if not commands:
        fail("no subcommands found in synfin --help")
    offered = complete(completion, "synfin", "")
    if offered - {"-h", "--help", "--version"} != set(commands):
        fail(f"`synfin <TAB>` offers {sorted(offered)}, --help lists {commands}")
    checked = 0
    for command in commands:
        flags = options(synfin, command)
        offered = complete(completion, "synfin", command, "-")
        if set(flags) != offered:
            fail(f"`synfin {command} -<TAB>`: missing {sorted(set(flags) - offered)}, "
                 f"not in --help {sorted(offered - set(flags))}")
        for flag, values in flags.items():
            if values is None:
                continue
            got = complete(completion, "synfin", command, flag, "")
            if got != values:
                fail(f"`synfin {command} {flag} <TAB>` offers {sorted(got)}, --help says {sorted(values)}")
            got = complete(completion, "synfin", command, flag, "=", "")
            if got != values:
                fail(f"`synfin {command} {flag}=<TAB>` offers {sorted(got)}, --help says {sorted(values)}")
            checked += 1
        # Flags complete after other arguments too, not only first.
        if complete(completion, "synfin", command, "-h", "--h") != {f for f in flags if f.startswith("--h")}:
            fail(f"`synfin {command} -h --h<TAB>` does not complete")
    print(f"completion matches --help: {len(commands)} commands, their flags, {checked} value sets")
    print("PASS")


if __name__ == "__main__":
    main()
