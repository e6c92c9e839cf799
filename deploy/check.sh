#!/usr/bin/env bash
# Checks of the deploy files that need no container engine and no cluster:
#   the compose file (docker-compose config), the Dockerfile (hadolint), the Helm chart
#   (helm lint; helm template output checked by kubernetes-validate, which carries its own
#   Kubernetes schemas; values.schema.json both ways: good values render, bad ones are
#   refused), and that compose and chart name the services of services/catalog.py.
# Installs what is missing first: the tools in deploy/requirements-check.txt into .venv,
# Debian's docker-compose, and Helm (built once with `go install`, kept in $(go env GOPATH)/bin).
set -uo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0        # Helm 3, built from the Go module proxy
KUBE_VERSION=1.33.0         # the Kubernetes version the chart is rendered and validated for
CHART=deploy/helm/kulturskole
PY=.venv/bin/python
started=$(date +%s)
passed=0
failed=0

exec 3>&1  # notices that must show while a step runs with its output captured
LOG=$(mktemp)
RENDERED=$(mktemp -d)  # the chart as rendered per values file, for the later checks
trap 'rm -rf "$LOG" "$RENDERED"' EXIT

step() {  # step NAME COMMAND...: run it, time it, count it; its output only when it fails
  local name=$1 t0=$(date +%s)
  shift
  if "$@" >"$LOG" 2>&1; then
    passed=$((passed + 1))
    echo "deploy-check: ok    ${name} ($(( $(date +%s) - t0 ))s)"
  else
    failed=$((failed + 1))
    cat "$LOG"
    echo "deploy-check: FAIL  ${name}"
  fi
}

# --- tools ------------------------------------------------------------------------------
install_python_tools() {
  local stamp=.venv/.deploy-check-installed
  test -x "$PY" || python3 -m venv .venv || return 1
  if ! cmp -s deploy/requirements-check.txt "$stamp"; then
    "$PY" -m pip install -q -r deploy/requirements-check.txt || return 1
    cp deploy/requirements-check.txt "$stamp"
  fi
}

install_docker_compose() {
  command -v docker-compose >/dev/null && return 0
  echo "deploy-check: installing docker-compose from Debian's packages" >&3
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
}

HELM=""
install_helm() {
  command -v go >/dev/null || { echo "deploy-check: Go is needed to build Helm" >&2; return 1; }
  HELM="$(go env GOPATH)/bin/helm"
  if [ -x "$HELM" ] && go version -m "$HELM" | grep -Eq "^[[:space:]]+mod[[:space:]]+helm.sh/helm/v3[[:space:]]+${HELM_VERSION}[[:space:]]"; then
    return 0
  fi
  echo "deploy-check: building Helm ${HELM_VERSION} with go install (first run only)" >&3
  GOBIN="$(go env GOPATH)/bin" go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
}

# --- checks -----------------------------------------------------------------------------
compose_config() {
  docker-compose -f docker-compose.yml config -q \
    && docker-compose -f docker-compose.yml --profile demo config -q
}

hadolint_dockerfile() {
  .venv/bin/hadolint --no-color Dockerfile
}

# The compose file and the rendered chart against services/catalog.py: the same services,
# their own commands, only settings that exist (deploy/check_deploy_config.py says more).
catalog_consistency() {
  "$PY" deploy/check_deploy_config.py docker-compose.yml "$RENDERED"/*.yaml
}

helm_lint() {
  "$HELM" lint --strict "$CHART" -f "$CHART/ci/inline-secrets.yaml" --kube-version "$KUBE_VERSION" \
    && "$HELM" lint --strict "$CHART" -f "$CHART/ci/existing-secret.yaml" --kube-version "$KUBE_VERSION" \
    && "$HELM" lint --strict "$CHART" -f "$CHART/ci/everything-on.yaml" --kube-version "$KUBE_VERSION"
}

helm_template_valid() {  # every values file of the checks renders to valid Kubernetes objects
  local values
  for values in "$CHART"/ci/*.yaml; do
    local out="$RENDERED/$(basename "$values")"
    "$HELM" template kulturskole "$CHART" -f "$values" --kube-version "$KUBE_VERSION" >"$out" \
      && .venv/bin/kubernetes-validate --strict --quiet -k "$KUBE_VERSION" "$out" || return 1
  done
}

# ServiceMonitors only where the Prometheus Operator's API is: none without it, one per
# service with it. kubernetes-validate knows no CRD, so these are checked by
# deploy/check_deploy_config.py instead (their selectors match the Services).
helm_service_monitors() {
  local values="$CHART/ci/everything-on.yaml" count
  count=$("$HELM" template kulturskole "$CHART" -f "$values" --kube-version "$KUBE_VERSION" | grep -c '^kind: ServiceMonitor$')
  [ "$count" -eq 0 ] || { echo "ServiceMonitors rendered without the monitoring.coreos.com/v1 API" >&2; return 1; }
  "$HELM" template kulturskole "$CHART" -f "$values" --kube-version "$KUBE_VERSION" \
    --api-versions monitoring.coreos.com/v1 >"$RENDERED/with-prometheus-operator.yaml" || return 1
  count=$(grep -c '^kind: ServiceMonitor$' "$RENDERED/with-prometheus-operator.yaml")
  [ "$count" -eq 3 ] || { echo "$count ServiceMonitors with the Prometheus Operator, not 3" >&2; return 1; }
}

# values.schema.json both ways: the good values files above render; each file under
# deploy/helm/bad-values is refused, with the text on its "# expect:" line.
helm_refuses_bad_values() {
  local bad expected out
  for bad in deploy/helm/bad-values/*.yaml; do
    expected=$(sed -n 's/^# expect: //p' "$bad")
    [ -n "$expected" ] || { echo "$bad has no '# expect:' line" >&2; return 1; }
    if out=$("$HELM" template kulturskole "$CHART" -f "$CHART/ci/inline-secrets.yaml" -f "$bad" \
      --kube-version "$KUBE_VERSION" 2>&1 >/dev/null); then
      echo "the chart rendered with $bad" >&2
      return 1
    fi
    grep -qF -- "$expected" <<<"$out" || { echo "$bad failed, but not with '$expected':" >&2; echo "$out" >&2; return 1; }
  done
}

helm_refuses_missing_passwords() {  # no silent empty password: rendering must fail
  local out
  if out=$("$HELM" template kulturskole "$CHART" --kube-version "$KUBE_VERSION" 2>&1); then
    echo "deploy-check: the chart rendered without any database password" >&2
    return 1
  fi
  grep -q "password is required" <<<"$out"
}

step "python tools (deploy/requirements-check.txt)" install_python_tools
step "docker-compose present" install_docker_compose
step "helm ${HELM_VERSION} present" install_helm
step "docker-compose config" compose_config
step "hadolint Dockerfile" hadolint_dockerfile
step "helm lint" helm_lint
step "helm template | kubernetes-validate ${KUBE_VERSION}" helm_template_valid
step "helm refuses to render without passwords" helm_refuses_missing_passwords
step "helm refuses bad values (values.schema.json)" helm_refuses_bad_values
step "helm ServiceMonitors only with the Prometheus Operator" helm_service_monitors
step "compose and chart match services/catalog.py" catalog_consistency

echo "deploy-check: took $(( $(date +%s) - started ))s"
# Worded so that CI's reading of test counts keeps to pytest's closing line.
echo "deploy-check: ${failed} of $((passed + failed)) checks failed"
[ "$failed" -eq 0 ]
