#!/usr/bin/env bash
# kafka.sh: a real single-node Apache Kafka 4.x broker (KRaft, combined
# broker+controller) on 127.0.0.1 for recoup's tests.
#
#   kafka.sh fetch                resolve the broker jars from Maven Central (mvn) into the cache
#   kafka.sh start [flags]        fetch if needed, format, start in the background, wait until a
#                                 produce with acks=all succeeds, print the bootstrap address
#   kafka.sh stop [flags]         SIGTERM, wait, then SIGKILL
#   kafka.sh status [flags]       exit 0 and print the address when running, exit 3 when not
#   kafka.sh run [flags]          format if needed and exec the broker in the foreground
#                                 (used by the Go helper kafkatest, which owns the process)
#
# Flags (or environment):
#   --data DIR             RECOUP_KAFKA_DATA             data dir (default ${TMPDIR:-/tmp}/recoup-kafka-PORT)
#   --port N               RECOUP_KAFKA_PORT             PLAINTEXT port (default 9092)
#   --controller-port N    RECOUP_KAFKA_CONTROLLER_PORT  CONTROLLER port (default PORT+1)
# Environment only:
#   RECOUP_KAFKA_VERSION   Kafka version (default 4.4.0)
#   RECOUP_KAFKA_CACHE     jar cache (default $HOME/.cache/recoup/kafka/VERSION), outside the repo
#   RECOUP_KAFKA_HEAP      broker heap (default 512m)
#   RECOUP_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90)
#
# Needs: java 17+, mvn (fetch only), go (start's readiness probe).
set -euo pipefail

VERSION=${RECOUP_KAFKA_VERSION:-4.4.0}
LOG4J_VERSION=2.25.5 # the log4j-core version kafka-server 4.4.0 depends on
CACHE=${RECOUP_KAFKA_CACHE:-$HOME/.cache/recoup/kafka/$VERSION}
LIBS=$CACHE/libs
HEAP=${RECOUP_KAFKA_HEAP:-512m}
START_TIMEOUT=${RECOUP_KAFKA_START_TIMEOUT:-90}
PORT=${RECOUP_KAFKA_PORT:-9092}
CPORT=${RECOUP_KAFKA_CONTROLLER_PORT:-}
DATA=${RECOUP_KAFKA_DATA:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

parse_flags() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--data) DATA=$2; shift 2 ;;
		--port) PORT=$2; shift 2 ;;
		--controller-port) CPORT=$2; shift 2 ;;
		*) die "unknown flag $1" ;;
		esac
	done
	CPORT=${CPORT:-$((PORT + 1))}
	DATA=${DATA:-${TMPDIR:-/tmp}/recoup-kafka-$PORT}
	mkdir -p "$DATA"
	DATA=$(cd "$DATA" && pwd)
	PIDFILE=$DATA/kafka.pid
	BROKERLOG=$DATA/broker.log
}

need_java() {
	command -v java >/dev/null || die "java not found: install a JDK 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
}

write_pom() {
	cat >"$1/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.recoup.test</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <!-- Kafka 4.x logs through slf4j 1.7 to log4j2: the binding is not a dependency of the broker jar. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
      <scope>runtime</scope>
    </dependency>
  </dependencies>
</project>
EOF
}

cmd_fetch() {
	if [ -f "$LIBS/.complete" ]; then
		log "jars cached in $LIBS"
		return 0
	fi
	need_java
	command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install -y maven)"
	mkdir -p "$CACHE"
	# Several test binaries may fetch at once: serialize on a lock file.
	exec 9>"$CACHE/.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if [ -f "$LIBS/.complete" ]; then
		log "jars cached in $LIBS"
		return 0
	fi
	local started=$SECONDS
	write_pom "$CACHE"
	rm -rf "$CACHE/libs.tmp"
	log "resolving org.apache.kafka:kafka_2.13:$VERSION with mvn into $LIBS"
	(cd "$CACHE" && mvn -B -q dependency:copy-dependencies \
		-DoutputDirectory=libs.tmp -DincludeScope=runtime) >"$CACHE/mvn.log" 2>&1 ||
		die "mvn could not resolve kafka_2.13:$VERSION; $CACHE/mvn.log ends with:
$(tail -30 "$CACHE/mvn.log")"
	[ -f "$CACHE/libs.tmp/kafka_2.13-$VERSION.jar" ] || die "mvn finished but kafka_2.13-$VERSION.jar is missing"
	rm -rf "$LIBS"
	mv "$CACHE/libs.tmp" "$LIBS"
	touch "$LIBS/.complete"
	log "fetched $(ls "$LIBS"/*.jar | wc -l) jars, $(du -sh "$LIBS" | cut -f1), in $((SECONDS - started))s"
}

write_config() {
	cat >"$DATA/server.properties" <<EOF
# written by test/kafka/kafka.sh; rewritten at every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA/logs
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
	cat >"$DATA/log4j2.properties" <<'EOF'
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

# prepare: jars present, config written, storage formatted once per data dir.
prepare() {
	need_java
	[ -f "$LIBS/.complete" ] || cmd_fetch
	write_config
	[ -f "$DATA/logs/meta.properties" ] && return 0
	local id
	# A random base64url UUID; one starting with '-' would read as a flag.
	id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	id=A${id#?}
	java -cp "$LIBS/*" kafka.tools.StorageTool format --cluster-id="$id" \
		-c "$DATA/server.properties" >"$DATA/format.log" 2>&1 ||
		die "formatting $DATA/logs failed: $(tail -5 "$DATA/format.log")"
}

java_args() {
	JAVA_ARGS=(-Xmx"$HEAP" -Xms128m -XX:+UseSerialGC -XX:-UsePerfData -XX:TieredStopAtLevel=1 -Xss512k
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$DATA/log4j2.properties"
		-cp "$LIBS/*" kafka.Kafka "$DATA/server.properties")
}

running_pid() {
	[ -f "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	# Guard against a recycled pid: it must be our broker with our config.
	[ -r "/proc/$pid/cmdline" ] || return 1
	local cmdline
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline") || return 1
	case "$cmdline" in *"$DATA/server.properties"*) ;; *) return 1 ;; esac
	echo "$pid"
}

cmd_run() {
	prepare
	java_args
	exec java "${JAVA_ARGS[@]}"
}

cmd_start() {
	if pid=$(running_pid); then
		log "already running (pid $pid, data $DATA)"
		echo "127.0.0.1:$PORT"
		return 0
	fi
	prepare
	java_args
	local started=$SECONDS
	setsid nohup java "${JAVA_ARGS[@]}" >>"$BROKERLOG" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	wait_ready "$!" "$started"
	log "broker ready in $((SECONDS - started))s (pid $(cat "$PIDFILE"), data $DATA, log $BROKERLOG)"
	echo "127.0.0.1:$PORT"
}

wait_ready() {
	local pid=$1 started=$2
	until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || die "broker exited during start; last log lines:
$(tail -20 "$BROKERLOG")"
		[ $((SECONDS - started)) -lt "$START_TIMEOUT" ] || die "broker not listening after ${START_TIMEOUT}s; see $BROKERLOG"
		sleep 0.2
	done
	command -v go >/dev/null || die "go not found: needed for the readiness probe (test/kafka/kafkaprobe)"
	(cd "$HERE" && go run ./kafkaprobe -addr "127.0.0.1:$PORT" -timeout "${START_TIMEOUT}s") >&2 ||
		die "broker listening but a produce with acks=all did not succeed; see $BROKERLOG"
}

cmd_stop() {
	local pid
	if ! pid=$(running_pid); then
		log "not running (data $DATA)"
		rm -f "$PIDFILE"
		return 0
	fi
	kill -TERM "$pid"
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "broker $pid ignored SIGTERM for 30s: SIGKILL"
		kill -KILL "$pid"
	fi
	rm -f "$PIDFILE"
	log "stopped (pid $pid)"
}

cmd_status() {
	local pid
	if pid=$(running_pid); then
		echo "running pid=$pid addr=127.0.0.1:$PORT data=$DATA"
		return 0
	fi
	echo "not running (data $DATA)"
	return 3
}

sub=${1:-}
[ $# -gt 0 ] && shift
case "$sub" in
fetch) cmd_fetch ;;
start) parse_flags "$@"; cmd_start ;;
stop) parse_flags "$@"; cmd_stop ;;
status) parse_flags "$@"; cmd_status ;;
run) parse_flags "$@"; cmd_run ;;
*) die "usage: kafka.sh fetch|start|stop|status|run [--data DIR] [--port N] [--controller-port N]" ;;
esac
