#!/usr/bin/env bash
# Install or update the recorder agent on a Raspberry Pi (the seed's steps 6.2-6.7).
# Run from a checkout of the repository:  sudo recorder/install.sh
# Options (environment): RECORDER_USER (default pi), PREFIX (default /opt/recorder-agent).
set -euo pipefail

RECORDER_USER="${RECORDER_USER:-pi}"
PREFIX="${PREFIX:-/opt/recorder-agent}"
CONFIG_DIR=/etc/recorder-agent
SPOOL=/var/lib/recorder-agent/spool
UNIT=/etc/systemd/system/recorder-agent.service
SOURCE="$(cd "$(dirname "$0")/.." && pwd)"

if [[ $EUID -ne 0 ]]; then
    echo "error: run as root (sudo $0)" >&2
    exit 1
fi
id "$RECORDER_USER" >/dev/null 2>&1 || { echo "error: no user $RECORDER_USER" >&2; exit 1; }

apt-get install -y -qq --no-install-recommends python3-venv libportaudio2 libsndfile1 alsa-utils

mkdir -p "$PREFIX"
rm -rf "$PREFIX/recorder" "$PREFIX/recorder_agent"
cp -r "$SOURCE/recorder" "$SOURCE/recorder_agent" "$PREFIX/"
find "$PREFIX" -name __pycache__ -prune -exec rm -rf {} +
[[ -d "$PREFIX/venv" ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q -r "$PREFIX/recorder/requirements.txt"
chown -R "$RECORDER_USER:$RECORDER_USER" "$PREFIX"

mkdir -p "$SPOOL"/{inbox,outbox,failed}
chown -R "$RECORDER_USER:$RECORDER_USER" /var/lib/recorder-agent
usermod -a -G audio "$RECORDER_USER"

mkdir -p "$CONFIG_DIR"
if [[ ! -f "$CONFIG_DIR/config.yaml" ]]; then
    install -m 0640 -g "$RECORDER_USER" "$SOURCE/recorder/config.example.yaml" \
        "$CONFIG_DIR/config.yaml"
    echo "wrote $CONFIG_DIR/config.yaml: fill in the device's ids, token and server URL"
fi

sed -e "s/^User=pi$/User=$RECORDER_USER/" -e "s/^Group=pi$/Group=$RECORDER_USER/" \
    -e "s#/opt/recorder-agent#$PREFIX#g" "$SOURCE/recorder/recorder-agent.service" >"$UNIT"
systemctl daemon-reload
systemctl enable recorder-agent

cd "$PREFIX"
if "$PREFIX/venv/bin/python" -m recorder --check --config "$CONFIG_DIR/config.yaml"; then
    systemctl restart recorder-agent
    echo "started; check: curl http://localhost:8042/health ; journalctl -u recorder-agent -f"
else
    echo "not started: fix $CONFIG_DIR/config.yaml, then: sudo systemctl start recorder-agent"
fi
