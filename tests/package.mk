# Tests of the Debian package and systemd units (owned by the packaging work).
