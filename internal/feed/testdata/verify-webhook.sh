#!/bin/sh
# Verify an Atalaya webhook delivery with openssl (docs/feeds.md).
# Usage: SECRET=... SIG='<X-Atalaya-Signature value>' verify-webhook.sh BODY_FILE
t=${SIG#t=}; t=${t%%,*}; v1=${SIG##*v1=}
mac=$( { printf '%s.' "$t"; cat "$1"; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
age=$(( $(date +%s) - t ))
[ "$mac" = "$v1" ] && [ "$age" -le 300 ] && [ "$age" -ge -300 ] && echo valid || { echo invalid; exit 1; }
