#!/bin/sh
#
# The nomadjail-server pot flavour's build script (potluck's <flavour>.sh; pot
# runs it once inside the new jail at `pot create -f .../nomadjail-server`).
# It installs Python and nomadjail, the rc scripts, the jobs directory and
# enables the cook service. Everything that depends on the pot's environment
# (NODENAME, IP, ...) happens later, at the jail's first start, in
# `nomadjail flavour cook` (run by /usr/local/etc/rc.d/cook).
#
# nomadjail comes from the one wheel the flavour copied to /root/.nomadjail/wheels
# (build it with `pip wheel --no-deps -w flavour/nomadjail-server.d/wheels .` in
# the source tree). nomadjail is not on PyPI: without that wheel the build stops
# at once, before anything is installed.
#
# NOMADJAIL_PAYLOAD and NOMADJAIL_COOKLOG override the payload directory and the
# log file; pot sets neither (they exist for the test suite).

set -eu

PYTHON_PKG=python311
PYTHON=/usr/local/bin/python3.11
VENV=/usr/local/nomadjail
PAYLOAD=${NOMADJAIL_PAYLOAD:-/root/.nomadjail}
WHEELS="$PAYLOAD/wheels"
COOKLOG=${NOMADJAIL_COOKLOG:-/var/log/cook.log}
# Dependencies with compiled parts come from FreeBSD packages (no compiler or
# Rust toolchain needed); the pure-Python rest comes from pip.
PY_PKGS="py311-cryptography py311-psutil py311-immutables py311-markupsafe"

STEP=""
step() {
	STEP="$*"
	echo "==> $STEP" | tee -a "$COOKLOG"
}

on_exit() {
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "ERROR: step failed (exit $status): $STEP" | tee -a "$COOKLOG" >&2
	fi
}
trap on_exit EXIT

date >> "$COOKLOG"

step "Find the nomadjail wheel in $WHEELS"
wheel=""
for candidate in "$WHEELS"/nomadjail-*.whl; do
	if [ ! -f "$candidate" ]; then
		continue
	fi
	if [ -n "$wheel" ]; then
		echo "ERROR: more than one nomadjail wheel in $WHEELS ($wheel, $candidate):" \
			"keep only the one to install in flavour/nomadjail-server.d/wheels/" \
			| tee -a "$COOKLOG" >&2
		exit 1
	fi
	wheel="$candidate"
done
if [ -z "$wheel" ]; then
	echo "ERROR: no nomadjail wheel (nomadjail-*.whl) in $WHEELS. nomadjail is not" \
		"published on PyPI: build the wheel into the flavour before pot create, with" \
		"'pip wheel --no-deps -w flavour/nomadjail-server.d/wheels .' in the source tree" \
		| tee -a "$COOKLOG" >&2
	exit 1
fi
echo "    $wheel" | tee -a "$COOKLOG"

step "Bootstrap the package tool"
mkdir -p /usr/local/etc/pkg/repos
if [ ! -e /usr/local/etc/pkg/repos/FreeBSD.conf ]; then
	# shellcheck disable=SC2016 # ${ABI} is pkg's variable, not the shell's
	echo 'FreeBSD: { url: "pkg+http://pkg.FreeBSD.org/${ABI}/quarterly" }' \
		> /usr/local/etc/pkg/repos/FreeBSD.conf
fi
ASSUME_ALWAYS_YES=yes pkg bootstrap

step "Prepare rc.conf"
touch /etc/rc.conf
# The jail's address is set by pot; an rc.conf ifconfig line would fight it.
if sysrc -c -q ifconfig_epair0b; then
	sysrc -x ifconfig_epair0b
fi
service sendmail onedisable || true

step "Install Python and the compiled dependencies"
# shellcheck disable=SC2086 # PY_PKGS is a list of package names
pkg install -y "$PYTHON_PKG" $PY_PKGS ca_root_nss

step "Create the nomadjail virtualenv in $VENV"
"$PYTHON" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip

step "Install nomadjail from $wheel (its dependencies from PyPI)"
"$VENV/bin/python" -m pip install --quiet --no-cache-dir "$wheel"
ln -sf "$VENV/bin/nomadjail" /usr/local/bin/nomadjail
/usr/local/bin/nomadjail version

step "Install the rc scripts"
package_dir=$("$VENV/bin/python" -c \
	'import nomadjail, os; print(os.path.dirname(nomadjail.__file__))')
mkdir -p /usr/local/etc/rc.d
for script in nomadjail cook; do
	install -m 0555 "$package_dir/rc.d/$script" "/usr/local/etc/rc.d/$script"
done

step "Create the jobs directory and the data directory"
mkdir -p /root/nomadjobs
install -d -m 0700 /var/db/nomadjail
install -d -m 0755 /usr/local/etc/nomadjail

step "Enable the cook service (it configures the server at the first start)"
sysrc cook_enable=YES

step "Clean up"
pkg clean -ay
rm -rf "$PAYLOAD" /var/db/freebsd-update
mkdir -p /var/db/freebsd-update

step "Done"
