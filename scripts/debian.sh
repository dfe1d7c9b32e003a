# shellcheck shell=bash
# Sourced by the check scripts: Debian packages installed when missing, as root or through sudo.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PACKAGE...: install them (versions pinned as PACKAGE=VERSION), then drop the
# downloaded .debs: CI's disk has run out before.
apt_install() {
    echo "$(basename "$0"): installing Debian's $*" >&2
    as_root apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return 1
    as_root apt-get clean
}
