#!/bin/bash
# Installs the media node on an Amazon Linux 2023 VM from its package (run by the
# template's UserData, or by hand on an upgrade): the binary, the systemd unit, nginx for
# TLS, the call key and certificate from Secrets Manager. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --region) region="$2" ;;
    --public-ip) public_ip="$2" ;;
    --udp-port) udp_port="$2" ;;
    --domain) domain="$2" ;;
    --events-url) events_url="$2" ;;
    --call-key-secret) call_key_secret="$2" ;;
    --certificate-secret) certificate_secret="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
secret() { aws secretsmanager get-secret-value --region "$region" --secret-id "$1" --query SecretString --output text; }

install -d -m 0755 /opt/vitrine/bin /etc/vitrine
install -d -m 0700 /etc/vitrine/tls
install -m 0755 "$here/vitrine-media-node" /opt/vitrine/bin/vitrine-media-node.new
mv /opt/vitrine/bin/vitrine-media-node.new /opt/vitrine/bin/vitrine-media-node

umask 077
cat > /etc/vitrine/media-node.env <<ENV
VITRINE_MEDIA_HTTP=127.0.0.1:7070
VITRINE_MEDIA_UDP=0.0.0.0:${udp_port}
VITRINE_MEDIA_PUBLIC_IP=${public_ip}
VITRINE_CALL_EVENTS_URL=${events_url}
VITRINE_CALL_KEY=$(secret "$call_key_secret")
ENV
certificate="$(secret "$certificate_secret")"
python3 -c 'import json,sys; print(json.loads(sys.argv[1])["certificate"])' "$certificate" > /etc/vitrine/tls/cert.pem
python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$certificate" > /etc/vitrine/tls/key.pem
umask 022

sed "s/@DOMAIN@/${domain}/" "$here/nginx.conf" > /etc/nginx/conf.d/vitrine-media-node.conf
install -m 0644 "$here/vitrine-media-node.service" /etc/systemd/system/vitrine-media-node.service
systemctl daemon-reload
systemctl enable --now nginx
systemctl reload nginx
# A running node drains its calls (SIGTERM) before the new binary starts.
systemctl enable vitrine-media-node
systemctl restart vitrine-media-node
