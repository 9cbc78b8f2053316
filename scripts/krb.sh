#!/usr/bin/env bash
# A Kerberized HDFS 2.7.3 on 127.0.0.1 for the tests: an MIT KDC (realm EXAMPLE.TEST, 127.0.0.1:19188) and a
# secure NameNode + DataNode (127.0.0.1:19100), with the jars scripts/hdfs.sh caches. The project's copy of
# ../shared/recipes/kerberos (beside the project), plus test principals, an admin ticket and a DataNode restart script.
#   scripts/krb.sh start   -> prints `export ...` lines (a second start while it runs only prints them)
#   scripts/krb.sh stop    -> stops the NameNode, DataNode and KDC
# Everything lives in $CHAMA_KRB_DIR (default /tmp/chama-krb), called $K below:
#   krb5.conf, krb5-norenew.conf (no renewable tickets), krb5-nokdc.conf (kdc on 19189, nothing there)
#   keytabs/hdfs.keytab (nn, dn, HTTP /localhost), chama, chama-short (1 minute, not renewable),
#   chama-stale (key changed since), ghost (principal deleted); cc.admin (nn/localhost = hdfs, the superuser)
#   kdc/kdc.log; hdfs/conf (client HADOOP_CONF_DIR), hdfs/bin/hdfs (the secure `hdfs dfs`),
#   hdfs/restart-dn.sh authentication|integrity|privacy (the DataNode again with that transfer protection).
# DTP (default integrity) is the DataNode's dfs.data.transfer.protection at start.
set -euo pipefail
K=${CHAMA_KRB_DIR:-/tmp/chama-krb}
R=$K/hdfs
LIB=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}/hdfs/lib
REALM=EXAMPLE.TEST KDC_PORT=19188 NN_RPC=19100 NN_HTTP=19170

stop() {
  for f in "$R/nn.pid" "$R/dn.pid" "$K/kdc/krb5kdc.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$R/nn.pid" "$R/dn.pid" "$K/kdc/krb5kdc.pid"; do
    [ -s "$f" ] && { while kill -0 "$(cat "$f")" 2>/dev/null; do sleep 0.1; done; rm -f "$f"; }
  done
  return 0
}

running() {
  for f in "$R/nn.pid" "$R/dn.pid" "$K/kdc/krb5kdc.pid"; do
    [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || return 1
  done
}

exports() {
  echo "export CHAMA_TEST_KRB_DIR=$K"
  echo "export CHAMA_TEST_SECURE_URL=hdfs://127.0.0.1:$NN_RPC"
  echo "export CHAMA_TEST_SECURE_CONF=$R/conf"
  echo "export CHAMA_TEST_SECURE_CLI=$R/bin/hdfs"
  echo "export CHAMA_TEST_KRB5_CONFIG=$K/krb5.conf"
  echo "export CHAMA_TEST_KRB_ADMIN_CC=$K/cc.admin"
}

# A fresh admin ticket (24 h), also on a second start.
admin_ticket() {
  KRB5_CONFIG=$K/krb5.conf kinit -kt "$K/keytabs/hdfs.keytab" -c "FILE:$K/cc.admin" "nn/localhost@$REALM"
}

kdc() {
  # Debian puts kadmin.local in krb5-admin-server.
  command -v krb5kdc >/dev/null && command -v kinit >/dev/null && command -v kadmin.local >/dev/null && command -v faketime >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 krb5-kdc krb5-user krb5-admin-server faketime >/dev/null
  mkdir -p "$K/kdc" "$K/keytabs"
  cat > "$K/krb5.conf" <<EOF
[libdefaults]
  default_realm = $REALM
  dns_lookup_realm = false
  dns_lookup_kdc = false
  rdns = false
  dns_canonicalize_hostname = false
  ignore_acceptor_hostname = true
  udp_preference_limit = 1
  forwardable = true
  ticket_lifetime = 24h
  renew_lifetime = 7d
  default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
  default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
  permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
  $REALM = {
    kdc = 127.0.0.1:$KDC_PORT
    admin_server = 127.0.0.1:19749
  }

[domain_realm]
  localhost = $REALM
  .localhost = $REALM
  127.0.0.1 = $REALM
EOF
  sed '/renew_lifetime/d' "$K/krb5.conf" > "$K/krb5-norenew.conf"
  sed "s/kdc = 127.0.0.1:$KDC_PORT/kdc = 127.0.0.1:19189/" "$K/krb5.conf" > "$K/krb5-nokdc.conf"
  cat > "$K/kdc.conf" <<EOF
[kdcdefaults]
  kdc_ports = $KDC_PORT
  kdc_tcp_ports = $KDC_PORT

[realms]
  $REALM = {
    database_name = $K/kdc/principal
    admin_keytab = FILE:$K/kdc/kadm5.keytab
    acl_file = $K/kdc/kadm5.acl
    key_stash_file = $K/kdc/stash
    kdc_ports = $KDC_PORT
    kdc_tcp_ports = $KDC_PORT
    kadmind_port = 19749
    max_life = 24h 0m 0s
    max_renewable_life = 7d 0h 0m 0s
    master_key_type = aes256-cts-hmac-sha1-96
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    default_principal_flags = +preauth
  }

[logging]
  kdc = FILE:$K/kdc/kdc.log
  admin_server = FILE:$K/kdc/kadmin.log
EOF
  echo "*/admin@$REALM *" > "$K/kdc/kadm5.acl"
  export KRB5_CONFIG=$K/krb5.conf KRB5_KDC_PROFILE=$K/kdc.conf
  kdb5_util create -s -r "$REALM" -P masterpw >/dev/null
  local kt=$K/keytabs
  # One kadmin.local for all; it does not fail on a bad command, so the keytabs are checked after.
  kadmin.local -r "$REALM" > "$K/kdc/setup.log" 2>&1 <<EOF
addprinc -randkey nn/localhost
addprinc -randkey dn/localhost
addprinc -randkey HTTP/localhost
addprinc -randkey chama
addprinc -randkey -maxlife "1 minute" -maxrenewlife "0 seconds" chama-short
addprinc -randkey chama-stale
addprinc -randkey ghost
ktadd -k $kt/hdfs.keytab nn/localhost dn/localhost HTTP/localhost
ktadd -k $kt/chama.keytab chama
ktadd -k $kt/chama-short.keytab chama-short
ktadd -k $kt/chama-stale.keytab chama-stale
cpw -randkey chama-stale
ktadd -k $kt/ghost.keytab ghost
delprinc -force ghost
EOF
  for f in hdfs chama chama-short chama-stale ghost; do
    [ -s "$kt/$f.keytab" ] || { echo "kadmin.local did not write $kt/$f.keytab" >&2; return 1; }
  done
  krb5kdc -P "$K/kdc/krb5kdc.pid" -r "$REALM"
  for _ in $(seq 1 50); do [ -s "$K/kdc/krb5kdc.pid" ] && break; sleep 0.1; done
}

hdfs() {
  mkdir -p "$R/conf" "$R/bin"
  for w in hdfs datanode secondary static; do
    mkdir -p "$R/res/webapps/$w/WEB-INF"
    echo '<web-app xmlns="http://java.sun.com/xml/ns/javaee" version="2.5"/>' > "$R/res/webapps/$w/WEB-INF/web.xml"
  done
  local kt=$K/keytabs/hdfs.keytab
  p() { echo "<property><name>$1</name><value>$2</value></property>"; }
  { echo '<configuration>'
    p fs.defaultFS "hdfs://127.0.0.1:$NN_RPC"; p hadoop.tmp.dir "$R/data/tmp"
    p hadoop.security.authentication kerberos; p hadoop.security.authorization true
    p hadoop.security.auth_to_local "RULE:[2:\$1@\$0](nn@$REALM)s/.*/hdfs/
RULE:[2:\$1@\$0](dn@$REALM)s/.*/hdfs/
DEFAULT"
    p hadoop.rpc.protection "${RPCP:-authentication}"
    p ipc.client.connect.max.retries 2; p ipc.client.connect.retry.interval 200
    echo '</configuration>'; } > "$R/conf/core-site.xml"
  # One line per property: restart-dn.sh rewrites the dfs.data.transfer.protection line.
  { echo '<configuration>'
    p dfs.replication 1; p dfs.namenode.name.dir "$R/data/nn"; p dfs.datanode.data.dir "$R/data/dn"
    p dfs.namenode.rpc-address "127.0.0.1:$NN_RPC"; p dfs.namenode.http-address "127.0.0.1:$NN_HTTP"
    p dfs.namenode.secondary.http-address 127.0.0.1:19168; p dfs.datanode.address 127.0.0.1:19166
    p dfs.datanode.http.address 127.0.0.1:19164; p dfs.datanode.ipc.address 127.0.0.1:19167
    p dfs.datanode.hostname 127.0.0.1; p dfs.webhdfs.enabled false; p dfs.permissions.enabled true
    p dfs.namenode.safemode.extension 0; p dfs.namenode.datanode.registration.ip-hostname-check false
    p dfs.block.access.token.enable true
    p dfs.namenode.kerberos.principal "nn/localhost@$REALM"; p dfs.namenode.keytab.file "$kt"
    p dfs.datanode.kerberos.principal "dn/localhost@$REALM"; p dfs.datanode.keytab.file "$kt"
    p dfs.web.authentication.kerberos.principal "HTTP/localhost@$REALM"; p dfs.web.authentication.kerberos.keytab "$kt"
    p dfs.namenode.kerberos.internal.spnego.principal "HTTP/localhost@$REALM"
    p dfs.data.transfer.protection "${DTP:-integrity}"
    p ignore.secure.ports.for.testing true
    p dfs.http.policy HTTP_ONLY
    echo '</configuration>'; } > "$R/conf/hdfs-site.xml"
  # Servers log INFO to their files, the client only warnings.
  local l4j='log4j.appender.c=org.apache.log4j.ConsoleAppender\nlog4j.appender.c.Target=System.err\nlog4j.appender.c.layout=org.apache.log4j.PatternLayout\nlog4j.appender.c.layout.ConversionPattern=%%d %%p %%c{2}: %%m%%n\n'
  printf "log4j.rootLogger=INFO,c\n$l4j" > "$R/conf/log4j-server.properties"
  printf "log4j.rootLogger=WARN,c\nlog4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR\n$l4j" > "$R/conf/log4j.properties"
  # The DataNode reads a copy of the conf, so that its transfer protection can change alone.
  cp -r "$R/conf" "$R/dn-conf"
  local jopts="-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED"
  local sopts="$jopts -Djava.security.krb5.conf=$K/krb5.conf -Dlog4j.configuration=log4j-server.properties"
  # The secure client: `hdfs dfs ARGS`, ticket from $KRB5CCNAME; Java reads $KRB5_CONFIG only through this wrapper.
  cat > "$R/bin/hdfs" <<EOW
#!/bin/sh
[ "\$1" = dfs ] && shift
KRB5_CONFIG=\${KRB5_CONFIG:-$K/krb5.conf}; export KRB5_CONFIG
exec java $jopts -Djava.security.krb5.conf="\$KRB5_CONFIG" -cp "$R/conf:$R/res:$LIB/*" org.apache.hadoop.fs.FsShell "\$@"
EOW
  chmod +x "$R/bin/hdfs"
  cat > "$R/restart-dn.sh" <<EOS
#!/bin/sh
# The DataNode again with dfs.data.transfer.protection \$1; the client conf gets the same value.
set -eu
case \${1:-} in authentication|integrity|privacy) ;; *) echo "usage: \$0 authentication|integrity|privacy" >&2; exit 2 ;; esac
if [ -s "$R/dn.pid" ]; then
  kill "\$(cat "$R/dn.pid")" 2>/dev/null || true
  while kill -0 "\$(cat "$R/dn.pid")" 2>/dev/null; do sleep 0.1; done
fi
sed -i "s|<name>dfs.data.transfer.protection</name><value>[a-z]*</value>|<name>dfs.data.transfer.protection</name><value>\$1</value>|" "$R/dn-conf/hdfs-site.xml" "$R/conf/hdfs-site.xml"
[ -f "$R/dn.log" ] && mv "$R/dn.log" "$R/dn.log.old"
java $sopts -cp "$R/dn-conf:$R/res:$LIB/*" org.apache.hadoop.hdfs.server.datanode.DataNode > "$R/dn.log" 2>&1 < /dev/null &
echo \$! > "$R/dn.pid"
# Ready once it has reported its blocks to the NameNode.
for _ in \$(seq 1 600); do
  grep -q 'Successfully sent block report' "$R/dn.log" && exit 0
  kill -0 "\$(cat "$R/dn.pid")" 2>/dev/null || { echo "DataNode died" >&2; tail -30 "$R/dn.log" >&2; exit 1; }
  sleep 0.1
done
echo "DataNode not up in 60 s" >&2; exit 1
EOS
  chmod +x "$R/restart-dn.sh"
  # shellcheck disable=SC2086
  java $sopts -cp "$R/conf:$R/res:$LIB/*" org.apache.hadoop.hdfs.server.namenode.NameNode -format -force -nonInteractive > "$R/format.log" 2>&1
  # shellcheck disable=SC2086
  java $sopts -cp "$R/conf:$R/res:$LIB/*" org.apache.hadoop.hdfs.server.namenode.NameNode > "$R/nn.log" 2>&1 < /dev/null &
  echo $! > "$R/nn.pid"
  "$R/restart-dn.sh" "${DTP:-integrity}"
  for _ in $(seq 1 600); do
    if curl -sf -m 2 "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" | grep -q '"NumLiveDataNodes" : 1' &&
       curl -sf -m 2 "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" | grep -q '"Safemode" : ""'; then
      return 0
    fi
    kill -0 "$(cat "$R/nn.pid")" 2>/dev/null || { echo "NameNode died" >&2; tail -30 "$R/nn.log" >&2; return 1; }
    sleep 0.1
  done
  echo "secure HDFS not up in 60 s" >&2
  return 1
}

start() {
  [ -f "$LIB/hadoop-hdfs-2.7.3.jar" ] || { echo "no Hadoop jars in $LIB: run scripts/hdfs.sh start once" >&2; return 1; }
  case ${DTP:-integrity} in authentication|integrity|privacy) ;; *) echo "DTP must be authentication, integrity or privacy" >&2; return 2 ;; esac
  stop
  rm -rf "$K"
  kdc
  hdfs
  admin_ticket
  # /chama for everyone (umask 000: mode 777), made as the superuser.
  KRB5CCNAME=$K/cc.admin "$R/bin/hdfs" dfs -D fs.permissions.umask-mode=000 -mkdir -p /chama
}

case ${1:-} in
  start)
    if running; then admin_ticket >&2; else start >&2; fi
    exports
    ;;
  stop) stop ;;
  *) echo "usage: scripts/krb.sh start|stop" >&2; exit 2 ;;
esac
