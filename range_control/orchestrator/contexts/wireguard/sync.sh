#!/bin/sh
# range-wg-sync "<public key> <address>" ...: the gateway's peers become exactly these, at
# once (a removed peer's session ends: it cannot handshake again), without touching the others'.
set -eu
umask 077
conf=/run/wg/wg0.conf
{
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat /run/wg/private)"
  for peer in "$@"; do
    [ -n "$peer" ] || continue
    key=${peer% *}
    address=${peer#* }
    printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$key" "$address"
  done
} > "$conf.new"
mv "$conf.new" "$conf"
wg syncconf wg0 "$conf"
