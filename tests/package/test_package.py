#!/usr/bin/env python3
"""Root: the Debian package as an administrator meets it. Builds the .deb with cpack from this
build, checks its dependencies against what the binary links, installs it with dpkg -i, and
checks the installed system: /usr/bin/synfin --version names this build's version and commit;
the unit in /lib/systemd/system passes `systemd-analyze verify`, starts /usr/bin/synfin and is
otherwise the unit deploy/ ships; nothing was enabled or started; the man page renders; bash
completes `synfin tr` from the installed completion; the Prometheus rules pass promtool. Then
`systemctl enable` as an administrator would, `dpkg -r`, and nothing of the package is left
(files, directories, enablement link); `dpkg --purge` forgets it.

All of it runs in a private mount namespace where /usr, /etc and /var (dpkg's database and lock
included) are overlays whose writes go to a tmpfs: the real dpkg, on the machine's own files,
but what it installs vanishes with the test, however the test ends (even killed), and two runs
at once (engineers sharing a machine) do not meet. The package is purged on failure anyway.

usage: test_package.py SYNFIN BUILD_DIR SOURCE_DIR"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "privileged"))
from harness import check, require_privileges, run_main  # noqa: E402

PACKAGE = "synfin"
SANDBOX = "SYNFIN_PACKAGE_SANDBOX"  # set inside the namespace: the tmpfs for the overlays
UNIT = "/lib/systemd/system/synfin.service"
WANTS_LINK = "/etc/systemd/system/multi-user.target.wants/synfin.service"


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)


def must(*cmd, **kw):
    r = run(*cmd, **kw)
    check(r.returncode == 0, f"`{' '.join(cmd)}` exited {r.returncode}: {(r.stdout + r.stderr)[-1500:]}")
    return r.stdout


def package_status():
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE)
    return r.stdout.strip() if r.returncode == 0 else "not-installed"


def installed_synfin_processes():
    found = []
    for exe in glob.glob("/proc/[0-9]*/exe"):
        try:
            if os.readlink(exe) == "/usr/bin/synfin":
                found.append(exe.split("/")[2])
        except OSError:
            pass
    return found


def needed_packages(binary):
    """The Debian packages holding the shared libraries `binary` names (DT_NEEDED)."""
    sonames = re.findall(r"^\s+NEEDED\s+(\S+)", must("objdump", "-p", binary), re.M)
    check(sonames, f"{binary} names no shared library")
    cache = must("ldconfig", "-p")
    packages = {}
    for soname in sonames:
        path = re.search(rf"^\s+{re.escape(soname)} \([^)]*\) => (\S+)$", cache, re.M)
        check(path, f"{soname} is not in the linker cache")
        owner = run("dpkg", "-S", os.path.realpath(path.group(1)))
        if owner.returncode != 0:  # merged /usr: dpkg may know the /lib spelling only
            owner = run("dpkg", "-S", path.group(1))
        check(owner.returncode == 0, f"no package owns {path.group(1)}")
        packages[soname] = owner.stdout.split(":")[0]
    return packages


def run_in_sandbox():
    """Runs this script again inside a private mount namespace (unshare); returns its status."""
    scratch = tempfile.mkdtemp(prefix="synfin-package-")
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                               os.path.realpath(__file__), *sys.argv[1:]],
                              env={**os.environ, SANDBOX: scratch}).returncode
    finally:
        os.rmdir(scratch)  # the tmpfs was mounted only inside the namespace: empty here


def mount_overlays(scratch):
    """Inside the namespace: every write under the system's directories goes to a tmpfs."""
    must("mount", "-t", "tmpfs", "-o", "mode=0755", "synfin-package", scratch)
    for top in ("/usr", "/etc", "/var", "/lib"):
        if os.path.islink(top) or not os.path.isdir(top):
            continue  # merged /usr: /lib is /usr/lib
        name = top.strip("/")
        upper, work = os.path.join(scratch, name), os.path.join(scratch, name + ".work")
        os.makedirs(upper)
        os.makedirs(work)
        must("mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={top},upperdir={upper},workdir={work}", top)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    require_privileges()
    if SANDBOX not in os.environ:
        sys.exit(run_in_sandbox())
    synfin, build, source = (os.path.abspath(a) for a in sys.argv[1:])

    def test():
        mount_overlays(os.environ[SANDBOX])
        check(package_status() == "not-installed",
              f"package {PACKAGE} is already installed ({package_status()}): this test installs "
              "and removes it; remove it first (dpkg -r synfin)")
        check(not os.path.lexists(WANTS_LINK), f"{WANTS_LINK} exists before the test")
        workdir = tempfile.mkdtemp(dir=os.environ[SANDBOX])
        installed = False
        try:
            must("cpack", "-G", "DEB", "-B", workdir, cwd=build)
            (deb,) = glob.glob(os.path.join(workdir, "synfin_*.deb"))
            fields = {f: must("dpkg-deb", "-f", deb, f).strip()
                      for f in ("Package", "Version", "Architecture", "Depends")}
            depends = {d.split()[0] for d in fields["Depends"].split(", ")}
            for soname, owner in needed_packages(synfin).items():
                check(owner in depends, f"links {soname} ({owner}) but Depends: {fields['Depends']}")
            print(f"{os.path.basename(deb)}: Depends: {fields['Depends']}")

            installed = True
            must("dpkg", "-i", deb)
            check(package_status() == "installed", f"after dpkg -i: {package_status()}")
            files = [f for f in must("dpkg", "-L", PACKAGE).splitlines() if f.strip()]
            check(all(os.path.lexists(f) for f in files), "a packaged file is missing after install")
            # Debian's copyright file, machine-readable (DEP-5), names both licences.
            copyright = "/usr/share/doc/synfin/copyright"
            check(copyright in files, f"the package has no {copyright}")
            text = open(copyright).read()
            check(text.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                                  "copyright-format/1.0/\n") and
                  re.search(r"^Files: bpf/\*\n(?:.+\n)*?License: GPL-2$", text, re.M) and
                  re.search(r"^Files: \*\n(?:.+\n)*?License: Apache-2.0$", text, re.M),
                  f"{copyright} is not the DEP-5 file naming GPL-2 and Apache-2.0")

            version = must("/usr/bin/synfin", "--version").strip()
            built = must(synfin, "--version").strip()
            check(re.fullmatch(r"synfin \d+\.\d+\.\d+ \(git ([0-9a-f]{7}(-dirty)?|unknown)\)", version),
                  f"--version says {version!r}")
            check(version == built, f"installed --version {version!r}, the build's {built!r}")
            commit = run("git", "-c", f"safe.directory={source}", "-C", source, "rev-parse",
                         "--short=7", "HEAD")
            if commit.returncode == 0:
                check(f"(git {commit.stdout.strip()}" in version,
                      f"--version {version!r} does not name HEAD {commit.stdout.strip()}")

            # The unit: systemd accepts it, it starts the installed binary, and apart from that
            # path it is deploy/'s unit, the one the deploy and capability tests hold.
            r = run("systemd-analyze", "verify", UNIT)
            check(r.returncode == 0 and "synfin.service" not in r.stdout + r.stderr,
                  f"systemd-analyze verify {UNIT}: {r.stdout}{r.stderr}")
            unit = open(UNIT).read()
            exec_start = re.findall(r"^ExecStart=(\S+)", unit, re.M)
            check(exec_start == ["/usr/bin/synfin"], f"ExecStart names {exec_start}")
            shipped = open(os.path.join(source, "deploy", "systemd", "synfin.service")).read()
            check(re.sub(r"(?m)^ExecStart=\S+", "", unit) == re.sub(r"(?m)^ExecStart=\S+", "", shipped),
                  "the installed unit differs from deploy/systemd/synfin.service beyond ExecStart")

            # Installing started and enabled nothing.
            check(run("systemctl", "--root=/", "is-enabled", "synfin.service").stdout.strip()
                  == "disabled",
                  "the package enabled synfin.service")
            check(not installed_synfin_processes(), "the package started synfin")

            r = run("man", "--warnings", "-l", "/usr/share/man/man1/synfin.1.gz",
                    env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "100"})
            check(r.returncode == 0 and not r.stderr.strip(), f"man page: {r.stderr}")
            for command in ("trace", "daemon", "stuck", "replay", "ladder"):
                check(f"synfin {command}" in r.stdout, f"man page lacks synfin {command}")
            r = run("bash", "--norc", "-c",
                    "source /usr/share/bash-completion/completions/synfin; "
                    "COMP_WORDS=(synfin tr); COMP_CWORD=1; _synfin; echo \"${COMPREPLY[@]}\"")
            check(r.stdout.strip() == "trace", f"installed completion of `synfin tr`: {r.stdout!r}")
            must("promtool", "check", "rules", "/usr/share/synfin/prometheus/synfin-rules.yml")
            check(os.path.getsize("/usr/share/synfin/grafana/synfin-dashboard.json") > 0, "dashboard")

            # An administrator enables it; removing the package takes the link along.
            must("systemctl", "--root=/", "enable", "synfin.service")
            check(os.path.islink(WANTS_LINK), "systemctl enable made no link")
            check(must("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).strip() == "",
                  "the package has conffiles: dpkg -r would leave them")
            must("dpkg", "-r", PACKAGE)
            # dpkg keeps a removed package's postrm (for a later purge): "config-files", with no
            # file of the package on disk, is what a clean removal looks like.
            check(package_status() in ("config-files", "not-installed"),
                  f"after dpkg -r: {package_status()}")
            left = [f for f in files if os.path.lexists(f) and not os.path.isdir(f)]
            check(not left, f"left after dpkg -r: {left}")
            own_dirs = ["/usr/share/synfin", "/usr/share/doc/synfin"]
            check(not any(os.path.lexists(d) for d in own_dirs), "package directories left")
            check(not os.path.lexists(WANTS_LINK), f"{WANTS_LINK} left after dpkg -r")
            must("dpkg", "--purge", PACKAGE)
            installed = False
            check(package_status() == "not-installed", f"after dpkg --purge: {package_status()}")
            print(f"installed {fields['Version']}: {version}; {len(files)} paths; unit verified; "
                  "nothing enabled or started; removed without a trace")
        finally:
            if installed or package_status() != "not-installed":
                run("dpkg", "--purge", PACKAGE)
            if os.path.islink(WANTS_LINK) and not os.path.exists(WANTS_LINK):
                os.unlink(WANTS_LINK)  # ours: the unit it pointed to was this test's package
            shutil.rmtree(workdir, ignore_errors=True)

    run_main(test)


if __name__ == "__main__":
    main()
