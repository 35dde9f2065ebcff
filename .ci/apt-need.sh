#!/usr/bin/env bash
# apt-need.sh FILE PACKAGE [FILE PACKAGE ...]: installs each Debian PACKAGE
# whose FILE (a command on PATH, or an absolute path) is missing, with one
# apt-get update for all of them; does nothing when every FILE is there.
set -euo pipefail
need=()
while [ "$#" -ge 2 ]; do
	case "$1" in
	/*) [ -e "$1" ] || need+=("$2") ;;
	*) command -v "$1" >/dev/null 2>&1 || need+=("$2") ;;
	esac
	shift 2
done
[ "${#need[@]}" -gt 0 ] || exit 0
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
