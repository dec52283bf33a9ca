#!/usr/bin/env bash
# The secured Kafka listener of the local stack (issue #15), next to the
# PLAINTEXT one the other tests use: SASL_SSL on localhost:$CDCV_STACK_KAFKA_SASL_PORT
# with SCRAM-SHA-512 (also SCRAM-SHA-256, PLAIN and OAUTHBEARER with Kafka's
# unsecured-JWT validator, for the tests of each mechanism), mutual TLS
# (client certificates signed by the stack's CA required), and the ACL
# authorizer (StandardAuthorizer) with allow.everyone.if.no.acl.found=false.
# The PLAINTEXT and CONTROLLER listeners authenticate nobody, so their
# principal User:ANONYMOUS is a super user: everything else works unchanged.
# Called by up.sh:
#   kafka-security.sh certs        create the CA, the broker certificate (SAN
#                                  DNS:localhost, IP:127.0.0.1) and a client
#                                  certificate, once (openssl; keystore PKCS12)
#   kafka-security.sh properties   print the broker settings (server.properties lines)
#   kafka-security.sh format-args  print StorageTool arguments that create the SCRAM users
#                                  at format time (a new cluster)
#   kafka-security.sh users        create the SCRAM users in a running cluster with
#                                  kafka-configs (ConfigCommand) unless done already
#   kafka-security.sh status       one line; exit 0 when the listener accepts connections
# Files in $CDCV_STACK_DIR/kafka-tls (CDCV_STACK_KAFKA_TLS_DIR): ca.pem (the CA to
# trust), client.pem/client.key (a client certificate for mutual TLS), broker.p12
# and, per SASL user, <user>.password (a password file, as Kubernetes Secrets mount them).
# Users (fixed names): cdcv-app (SCRAM-SHA-512 and -256; the tests grant it ACLs),
# cdcv-noacl (SCRAM-SHA-512, never granted anything), cdcv-plain (PLAIN).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

dir="$CDCV_STACK_KAFKA_TLS_DIR"
store_pass=cdcv-stack-keystore
scram_users=(cdcv-app cdcv-noacl)
password_of() { printf '%s-password-8231' "$1"; }   # local test credentials, as the replication role's

certs() {
  [[ -f $dir/ca.pem && -f $dir/broker.p12 && -f $dir/client.pem && -f $dir/client.key ]] && return 0
  command -v openssl >/dev/null || cdcv_die "openssl not found (needed for the Kafka TLS certificates): apt-get install openssl"
  local work="$dir.new" log="$CDCV_LOG_DIR/kafka-tls.log"
  rm -rf "$work" && mkdir -p "$work" "$CDCV_LOG_DIR"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cdc-views stack CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$work/ca.key" -out "$work/ca.pem"
    sign() { # name, subject, extensions
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$work/$1.key" -out "$work/$1.csr"
      printf '%s\n' "$3" >"$work/$1.ext"
      openssl x509 -req -days 3650 -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -extfile "$work/$1.ext" -out "$work/$1.pem"
    }
    sign broker /CN=localhost $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
    sign client /CN=cdcv-client 'extendedKeyUsage=clientAuth'
    openssl pkcs12 -export -in "$work/broker.pem" -inkey "$work/broker.key" -certfile "$work/ca.pem" \
      -name broker -passout "pass:$store_pass" -out "$work/broker.p12"
    rm -f "$work"/*.csr "$work"/*.ext "$work"/*.srl
  } >"$log" 2>&1 || cdcv_die "creating the Kafka TLS certificates failed; see $(cdcv_rel "$log")"
  for u in "${scram_users[@]}" cdcv-plain; do password_of "$u" >"$work/$u.password"; done
  chmod 600 "$work"/*.key "$work"/*.password
  rm -rf "$dir" && mv "$work" "$dir"
  cdcv_log "Kafka TLS certificates created in $(cdcv_rel "$dir")" >&2
}

properties() {
  cat <<EOF
# SASL_SSL listener and ACLs (scripts/stack/kafka-security.sh, issue #15).
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_cdcv-plain="$(password_of cdcv-plain)";
# No server callback handler: Kafka's unsecured-JWT validator (tokens with alg none; a test stand-in for an identity provider).
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$dir/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$store_pass
listener.name.sasl_ssl.ssl.key.password=$store_pass
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$dir/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
}

# "user mechanism" per SCRAM credential (kafka-configs alters one credential per request).
scram_credentials=("cdcv-app SCRAM-SHA-512" "cdcv-app SCRAM-SHA-256" "cdcv-noacl SCRAM-SHA-512")
marker="$CDCV_KAFKA_DIR/scram-users"
wanted_users() { local c; for c in "${scram_credentials[@]}"; do printf '%s %s\n' "$c" "$(password_of "${c% *}" | sha256sum | cut -c1-16)"; done; }

format_args() {
  local c
  for c in "${scram_credentials[@]}"; do
    printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "${c#* }" "${c% *}" "$(password_of "${c% *}")"
  done
}

users() {
  [[ -f $marker && "$(cat "$marker")" == "$(wanted_users)" ]] && return 0
  local c log="$CDCV_LOG_DIR/kafka-scram.log"
  for c in "${scram_credentials[@]}"; do
    timeout 60 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
      -Dlog4j.configuration="file:$here/tools-log4j.properties" -cp "$CDCV_LIB_DIR/*" kafka.admin.ConfigCommand \
      --bootstrap-server "localhost:$CDCV_KAFKA_PORT" --alter --entity-type users --entity-name "${c% *}" \
      --add-config "${c#* }=[password=$(password_of "${c% *}")]" >>"$log" 2>&1 ||
      cdcv_die "creating the SCRAM credential ${c#* } of ${c% *} failed; see $(cdcv_rel "$log")"
  done
  wanted_users >"$marker"
  cdcv_log "SCRAM users created: ${scram_credentials[*]}" >&2
}

case "${1:-}" in
  certs) certs ;;
  properties) properties ;;
  format-args) format_args; mkdir -p "$CDCV_KAFKA_DIR"; wanted_users >"$marker.pending" ;;
  users) [[ -f $marker.pending ]] && mv -f "$marker.pending" "$marker"; users ;;
  status)
    if cdcv_port_open 127.0.0.1 "$CDCV_STACK_KAFKA_SASL_PORT"; then
      printf '%-9s %-28s %s\n' kafka-sasl "localhost:$CDCV_STACK_KAFKA_SASL_PORT" "up (SASL_SSL, SCRAM-SHA-512, mutual TLS; CA $(cdcv_rel "$dir/ca.pem"))"
    else
      printf '%-9s %-28s %s\n' kafka-sasl "localhost:$CDCV_STACK_KAFKA_SASL_PORT" "DOWN: not accepting connections"; exit 1
    fi ;;
  *) cdcv_die "usage: kafka-security.sh certs|properties|format-args|users|status" ;;
esac
