#!/usr/bin/env bash
# Installs what `make up` and `make test` need, from package registries only: Debian packages
# (PostgreSQL, Java, Maven, Node.js, Chromium, promtool) with apt-get, Python packages from PyPI into
# .venv, the Apache Kafka jars and Zipkin's server from Maven Central, the AsyncAPI parser
# from npm. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql postgresql-client)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The console's browser test drives Debian's Chromium through its WebDriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# promtool checks and unit-tests the rules of deploy/observability: Debian's prometheus package
# has it (a build from the Go module proxy takes about 12 minutes on 2 cores).
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[bootstrap] apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv"
  "$python" -m venv .venv
fi
# .venv gets the runtime and the test tools (requirements/dev.txt); the image gets
# requirements/runtime.txt alone. Both are locks with hashes: pip refuses any file whose hash
# differs from the one locked.
stamp=.venv/.requirements-dev.sha256
wanted=$(sha256sum requirements/dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "[bootstrap] installing Python packages (requirements/dev.txt)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --require-hashes -r requirements/dev.txt
  echo "$wanted" > "$stamp"
fi

if ! ls deploy/kafka/libs/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "[bootstrap] resolving Apache Kafka from Maven Central"
  mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies
fi

# Zipkin's server, UI included (the exec jar), from Maven Central: the trace UI of `make up`.
zipkin_version=3.5.1
zipkin_jar=.data/zipkin/zipkin-server-$zipkin_version-exec.jar
if [ ! -f "$zipkin_jar" ]; then
  echo "[bootstrap] resolving Zipkin $zipkin_version from Maven Central"
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="io.zipkin:zipkin-server:$zipkin_version:jar:exec" -DoutputDirectory=.data/zipkin
fi
ln -sfn "$(basename "$zipkin_jar")" .data/zipkin/zipkin-server.jar

# The AsyncAPI project's own parser (npm), which validates contracts/asyncapi.yaml in make test.
tooling=contracts/tooling
stamp=$tooling/node_modules/.package-lock.sha256
wanted=$(sha256sum $tooling/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "[bootstrap] installing the AsyncAPI parser from npm ($tooling)"
  npm ci --prefix $tooling --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$wanted" > "$stamp"
fi

# kustomize and kubeconform for tests/deploy, which builds every overlay and validates it
# offline (make test); Go modules from the Go module proxy, built into .data/bin.
install_go_tool() {  # name module@version
  local stamp=".data/bin/.$1.version"
  if [ ! -x ".data/bin/$1" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$2" ]; then
    PATH="$PATH:/usr/local/go/bin"
    command -v go >/dev/null 2>&1 || { echo "[bootstrap] $1 needs Go (go install $2)" >&2; exit 1; }
    echo "[bootstrap] go install $2"
    mkdir -p .data/bin
    GOBIN="$PWD/.data/bin" go install "$2"
    echo "$2" > "$stamp"
  fi
}
install_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
install_go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
