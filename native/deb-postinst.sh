#!/bin/sh
# deb post-install: reload udev so the RS-485 rules apply without a reboot. The kiosk unit is installed to
# /usr/share/sitegate/ and not enabled: a site office PC runs the desktop app, only gateway hardware the kiosk.
set -e
if command -v udevadm >/dev/null 2>&1; then
  udevadm control --reload || true
  udevadm trigger --subsystem-match=tty || true
fi
exit 0
