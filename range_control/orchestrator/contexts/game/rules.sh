#!/bin/sh
# Replace the whole packet filter with the one given (iptables-restore input, one argument):
# atomically, so that no packet sees half of the old rules and half of the new.
set -eu
printf '%s' "$1" | iptables-restore -w
