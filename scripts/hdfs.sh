#!/usr/bin/env bash
# A real HDFS 2.7.3 (NameNode + DataNode) on 127.0.0.1 for the tests, from the
# jars in PyPI's pyspark==2.4.8 source package plus Debian's jersey1, on Java 17.
#   scripts/hdfs.sh start   -> prints `export ...` lines (HDFS URL, the `hdfs` wrapper, pids)
#   scripts/hdfs.sh stop    -> stops what start started
# Jars are cached in $CHAMA_TEST_CACHE/hdfs (default ~/.cache/chama-test/hdfs).
set -euo pipefail
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
H=$CACHE/hdfs
RUN=${CHAMA_HDFS_RUN:-/tmp/chama-hdfs}
NN_RPC=19000 NN_HTTP=19870

stop() {
  for p in nn dn; do
    [ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null || true
  done
  for p in nn dn; do
    [ -f "$RUN/$p.pid" ] && { while kill -0 "$(cat "$RUN/$p.pid")" 2>/dev/null; do sleep 0.1; done; rm -f "$RUN/$p.pid"; }
  done
  return 0
}

install_jars() {
  [ -f "$H/lib/hadoop-hdfs-2.7.3.jar" ] && return 0
  mkdir -p "$H/lib"
  command -v java >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends openjdk-17-jre-headless >/dev/null
  [ -f /usr/share/java/jersey1-core.jar ] && command -v curl >/dev/null || \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
      libjersey1-core-java libjersey1-server-java libjersey1-servlet-java libjsr311-api-java curl >/dev/null
  python3 -m venv "$H/dlenv" && "$H/dlenv/bin/pip" install -q --disable-pip-version-check wheel setuptools
  # The sdist only; --no-build-isolation skips its broken pypandoc metadata step.
  "$H/dlenv/bin/pip" download -q --disable-pip-version-check --no-deps --no-build-isolation -d "$H/dl" pyspark==2.4.8
  local jars="hadoop-common-2.7.3 hadoop-hdfs-2.7.3 hadoop-auth-2.7.3 hadoop-annotations-2.7.3 guava-14.0.1 protobuf-java-2.5.0
   commons-cli-1.2 commons-codec-1.10 commons-collections-3.2.2 commons-configuration-1.6 commons-io-2.4 commons-lang-2.6
   commons-logging-1.1.3 commons-beanutils-1.9.4 commons-digester-1.8 commons-compress-1.20 commons-math3-3.4.1 commons-net-3.1
   log4j-1.2.17 slf4j-api-1.7.16 slf4j-log4j12-1.7.16 htrace-core-3.1.0-incubating jetty-6.1.26 jetty-util-6.1.26
   javax.servlet-api-3.1.0 jackson-core-asl-1.9.13 jackson-mapper-asl-1.9.13 netty-3.9.9.Final netty-all-4.1.47.Final
   xmlenc-0.52 xercesImpl-2.9.1 jsr305-1.3.9 httpclient-4.5.6 httpcore-4.4.10 avro-1.8.2 gson-2.2.4 zookeeper-3.4.6
   curator-framework-2.7.1 curator-client-2.7.1 leveldbjni-all-1.8 jaxb-api-2.2.2 activation-1.1.1"
  # shellcheck disable=SC2046
  tar -xzf "$H/dl/pyspark-2.4.8.tar.gz" -C "$H/lib" --strip-components=3 $(for j in $jars; do echo "pyspark-2.4.8/deps/jars/$j.jar"; done)
  cp /usr/share/java/jersey1-core.jar /usr/share/java/jersey1-server.jar /usr/share/java/jersey1-servlet.jar /usr/share/java/jsr311-api.jar "$H/lib/"
  rm -rf "$H/dl" "$H/dlenv"
}

start() {
  install_jars >&2
  stop
  rm -rf "$RUN"; mkdir -p "$RUN/conf" "$RUN/bin"
  # HttpServer2 wants webapps/<name> on the classpath, outside the jars.
  for w in hdfs datanode secondary static; do
    mkdir -p "$RUN/res/webapps/$w/WEB-INF"
    echo '<web-app xmlns="http://java.sun.com/xml/ns/javaee" version="2.5"/>' > "$RUN/res/webapps/$w/WEB-INF/web.xml"
  done
  p() { echo "<property><name>$1</name><value>$2</value></property>"; }
  { echo '<configuration>'; p fs.defaultFS "hdfs://127.0.0.1:$NN_RPC"; p hadoop.tmp.dir "$RUN/data/tmp"
    p ipc.client.connect.max.retries 2; p ipc.client.connect.retry.interval 200; echo '</configuration>'; } > "$RUN/conf/core-site.xml"
  { echo '<configuration>'
    p dfs.replication 1; p dfs.namenode.name.dir "$RUN/data/nn"; p dfs.datanode.data.dir "$RUN/data/dn"
    p dfs.namenode.rpc-address "127.0.0.1:$NN_RPC"; p dfs.namenode.http-address "127.0.0.1:$NN_HTTP"
    p dfs.namenode.secondary.http-address 127.0.0.1:19868; p dfs.datanode.address 127.0.0.1:19866
    p dfs.datanode.http.address 127.0.0.1:19864; p dfs.datanode.ipc.address 127.0.0.1:19867
    p dfs.datanode.hostname 127.0.0.1; p dfs.webhdfs.enabled true; p dfs.permissions.enabled true
    p dfs.namenode.safemode.extension 0; p dfs.namenode.datanode.registration.ip-hostname-check false
    echo '</configuration>'; } > "$RUN/conf/hdfs-site.xml"
  printf 'log4j.rootLogger=WARN,c\nlog4j.appender.c=org.apache.log4j.ConsoleAppender\nlog4j.appender.c.Target=System.err\nlog4j.appender.c.layout=org.apache.log4j.PatternLayout\nlog4j.appender.c.layout.ConversionPattern=%%d %%p %%c{2}: %%m%%n\n' > "$RUN/conf/log4j.properties"
  local cp="$RUN/conf:$RUN/res:$H/lib/*"
  local jopts="-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true"
  # The site's client, as chama's hdfs-cli kind calls it: `hdfs dfs ARGS`.
  cat > "$RUN/bin/hdfs" <<EOW
#!/bin/sh
[ "\$1" = dfs ] && shift
exec java $jopts -cp "$cp" org.apache.hadoop.fs.FsShell "\$@"
EOW
  chmod +x "$RUN/bin/hdfs"
  # shellcheck disable=SC2086
  java $jopts -cp "$cp" org.apache.hadoop.hdfs.server.namenode.NameNode -format -force -nonInteractive > "$RUN/format.log" 2>&1
  # shellcheck disable=SC2086
  java $jopts -cp "$cp" org.apache.hadoop.hdfs.server.namenode.NameNode > "$RUN/nn.log" 2>&1 < /dev/null & echo $! > "$RUN/nn.pid"
  # The DataNode is (re)started by a script of its own, so that tests can kill and restart it.
  cat > "$RUN/start-dn.sh" <<EOS
#!/bin/sh
java $jopts -cp "$cp" org.apache.hadoop.hdfs.server.datanode.DataNode >> "$RUN/dn.log" 2>&1 < /dev/null &
echo \$! > "$RUN/dn.pid"
EOS
  chmod +x "$RUN/start-dn.sh"
  "$RUN/start-dn.sh"
  for _ in $(seq 1 600); do
    if curl -sf -m 2 "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" | grep -q '"NumLiveDataNodes" : 1' &&
       curl -sf -m 2 "http://127.0.0.1:$NN_HTTP/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" | grep -q '"Safemode" : ""'; then
      echo "export CHAMA_TEST_HDFS_URL=hdfs://127.0.0.1:$NN_RPC"
      echo "export CHAMA_TEST_HDFS_CLI=$RUN/bin/hdfs"
      echo "export CHAMA_TEST_HDFS_RUN=$RUN"
      return 0
    fi
    kill -0 "$(cat "$RUN/nn.pid")" "$(cat "$RUN/dn.pid")" 2>/dev/null || { echo "HDFS died" >&2; tail -30 "$RUN/nn.log" "$RUN/dn.log" >&2; return 1; }
    sleep 0.1
  done
  echo "HDFS did not start in 60 s" >&2
  return 1
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: scripts/hdfs.sh start|stop" >&2; exit 2 ;;
esac
