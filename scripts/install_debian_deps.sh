#!/bin/sh
# Installs the Debian packages spatialmw needs at run and test time, only those missing.
# libopenal1/libopenal-data: OpenAL Soft peer and playback; ffmpeg: sofalizer peer;
# alsa-utils: the real 48 kHz speech the demo scene uses; libmysofa1: the KEMAR SOFA file;
# pkg-config, cmake: the SDK relocation test builds a C host both ways.
set -e
PKGS="libopenal1 libopenal-data ffmpeg alsa-utils libmysofa1 pkg-config cmake"
MISSING=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || MISSING="$MISSING $p"
done
if [ -z "$MISSING" ]; then
    echo "debian: all present ($PKGS)"
    exit 0
fi
echo "debian: installing$MISSING"
if [ "$(id -u)" != 0 ]; then
    echo "debian: not root; run: sudo apt-get install$MISSING" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING
