#!/bin/sh
# Install nomadjail from the synced source tree and run one agent (server + client) with
# the pot driver, as rc.d/nomadjail does on any FreeBSD host.  Idempotent.
set -eu

SRC=/usr/local/src/nomadjail
VENV=/usr/local/nomadjail
CONFIG_DIR=/usr/local/etc/nomadjail

# The compiled dependencies come from FreeBSD packages, the rest from PyPI.
pkg install -y python311 py311-cryptography py311-psutil py311-immutables py311-markupsafe
if [ ! -x "$VENV/bin/python" ]; then
    python3.11 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade "$SRC"
ln -sf "$VENV/bin/nomadjail" /usr/local/bin/nomadjail
install -m 0555 "$SRC/rc.d/nomadjail" /usr/local/etc/rc.d/nomadjail

mkdir -p "$CONFIG_DIR"
install -m 0644 "$SRC/vagrant/nomadjail.hcl" "$CONFIG_DIR/agent.hcl"
sysrc nomadjail_enable=YES
service nomadjail restart

# Wait (up to 2 minutes) until the client registered and its pot driver is healthy.
i=0
until fetch -qo - "http://127.0.0.1:4646/v1/nodes" 2>/dev/null | grep -q '"Status":"ready"'; do
    i=$((i + 1))
    if [ "$i" -gt 120 ]; then
        echo "the nomadjail agent did not become ready; see /var/log/nomadjail.log" >&2
        tail -n 40 /var/log/nomadjail.log >&2 || true
        exit 1
    fi
    sleep 1
done
nomadjail node status -self -verbose | grep -i 'pot' || true
