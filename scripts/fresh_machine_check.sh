#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12 machine: builds a clean
# Debian 12 root with debootstrap from the Debian archive, puts the committed
# tree (HEAD, as a clone has it: commit first) into it, and runs
# `bash scripts/demo.sh` and then `bash scripts/test.sh` inside it (chroot in
# a private mount namespace), as root, with nothing installed by hand.
# Prints the time of each and exits non-zero if either fails. Run it whenever
# scripts/setup.sh or a dependency changes (a green CI on a machine that has
# packages installed by hand can hide a missing one).
#
#   sudo bash scripts/fresh_machine_check.sh [--root DIR] [--mirror URL] [--keep]
#
# Needs root, about 6 GB of disk and the Debian archive; installs debootstrap
# on this machine if it is missing. The root goes to DIR (default
# /var/tmp/flashembed-fresh-root; an absolute path outside this tree) and is
# removed afterwards unless --keep.
# The commands' output goes to DIR.log/{demo,test}.log; the last lines of a
# failed one are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
root=/var/tmp/flashembed-fresh-root
mirror=http://deb.debian.org/debian
keep=0
while (($#)); do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --mirror) mirror=${2%/}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh_machine_check: error: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "fresh_machine_check: error: needs root (debootstrap, chroot, mounts)" >&2
  exit 1
fi
case "$root" in
  /*/*) ;;
  *) echo "fresh_machine_check: error: --root must be an absolute path below a folder, got '$root'" >&2
     exit 2 ;;
esac
root=${root%/}
if [[ "$root/" == "$src/"* ]]; then
  echo "fresh_machine_check: error: --root must be outside the source tree" >&2
  exit 2
fi
if [[ -e "$root" && ! -e "$root/.flashembed-fresh-root" ]]; then
  echo "fresh_machine_check: error: $root exists and is not a root this script made; remove it" >&2
  exit 2
fi
logs=$root.log
if ! command -v debootstrap >/dev/null; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null
fi

cleanup() {
  # Mounts live in this script's private namespace (unshare below) and go
  # with it; only the files are left.
  if ((keep == 0)); then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
rm -rf --one-file-system "$root"
mkdir -p "$root" "$logs"
touch "$root/.flashembed-fresh-root"

seconds() { date +%s; }
t0=$(seconds)
echo "fresh_machine_check: debootstrap bookworm into $root (from $mirror)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$logs/debootstrap.log" 2>&1 || {
  tail -20 "$logs/debootstrap.log" >&2
  echo "fresh_machine_check: error: debootstrap failed" >&2
  exit 1
}
t_root=$(($(seconds) - t0))
# What a new machine has: the security and updates suites of the same archive,
# DNS, a hostname.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hostname "$root/etc/hostname" 2>/dev/null || true
# A network that intercepts TLS (a proxy with its own CA, which this
# machine trusts through /usr/local/share/ca-certificates) needs the same
# trust on every machine behind it: npm (the Milvus SDK test) would fail
# otherwise. Those local CAs are carried over; nothing else is.
extra_ca=""
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  cat /usr/local/share/ca-certificates/*.crt >"$root/etc/local-ca-bundle.crt"
  extra_ca=/etc/local-ca-bundle.crt
fi

# The tree as a clone has it: HEAD's files only, so a file that was never
# committed (or is only on this machine) fails here as it would for a user.
mkdir -p "$root/root/flashembed"
git -C "$src" archive --format=tar HEAD | tar -C "$root/root/flashembed" -xf -

run_inside() {  # name, command
  local name=$1 cmd=$2 start rc
  start=$(seconds)
  set +e
  unshare --mount --fork bash -euc '
    root=$1; cmd=$2
    mount --make-rprivate /
    # The root a mount point of its own, as a real root is: the tests that
    # mount a private tmpfs (tests/testing/small_fs.h) make "/" private.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/dev/shm"
    mount -t tmpfs -o size=8g tmpfs "$root/tmp"
    exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      ${3:+NODE_EXTRA_CA_CERTS=$3} bash -c "cd /root/flashembed && $cmd"
  ' _ "$root" "$cmd" "$extra_ca" >"$logs/$name.log" 2>&1
  rc=$?
  set -e
  local took=$(($(seconds) - start))
  printf 'fresh_machine_check: %-5s %s (exit %d) in %dm %02ds\n' "$name" \
    "$([[ $rc -eq 0 ]] && echo passed || echo FAILED)" "$rc" $((took / 60)) $((took % 60))
  if ((rc != 0)); then
    tail -30 "$logs/$name.log" >&2
    return $rc
  fi
}

echo "fresh_machine_check: clean root ready in $((t_root / 60))m $((t_root % 60))s"
status=0
run_inside demo "bash scripts/demo.sh" || status=1
run_inside test "bash scripts/test.sh" || status=1
# A test that cannot run here skips (say, no mount namespaces): say how many.
skipped=$(grep -c '\*\*\*Skipped' "$logs/test.log" || true)
echo "fresh_machine_check: $skipped tests skipped (see $logs/test.log)"
total=$(($(seconds) - t0))
echo "fresh_machine_check: total $((total / 60))m $((total % 60))s; logs in $logs"
exit $status
