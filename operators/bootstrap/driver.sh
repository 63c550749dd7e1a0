#!/bin/sh
# graft edge bootstrap driver.
#
# The bootstrap script served by graft's cluster-manager unpacks its files into a temporary directory, sets
# GRAFT_BOOTSTRAP_DIR to it and runs this file with the same shell. It can also be run by hand from a directory
# unpacked with --unpack: GRAFT_BOOTSTRAP_DIR=DIR sh DIR/driver.sh [options]
#
# Files it expects beside it: settings.sh (cluster identity, written by the builder), self-link.yaml,
# flux-install.yaml, cluster-config.yaml, and credentials.yaml (embedded mode) or enrol-pod.yaml + krb5.conf
# (Kerberos mode). Every step is printed as "==> ..."; every failure ends with "error: ..." and a way forward.
set -eu

usage() {
  cat <<'USAGE'
Usage: sh bootstrap.sh [options]     (or: curl -fsSL <url> | sh -s -- [options])

Bootstraps this Kubernetes cluster (the current kubectl context) as a graft edge cluster.

Options:
  -y, --yes              do not ask for confirmation (also GRAFT_BOOTSTRAP_YES=1)
      --no-wait          do not wait for Flux to reconcile the cluster's repository
      --wait-timeout D   how long to wait for Kustomization "self-link" to be Ready (default 5m)
      --local            Kerberos mode: enrol from this machine with "graft enrol --local" instead of a Pod
      --pod-timeout D    Kerberos mode: how long to wait for the enrolment Pod to start (default 5m)
      --kadmin-server H  Kerberos mode: the kadmin server to use (default from the script)
      --unpack DIR       write the script's files into DIR and stop, changing nothing
  -h, --help             show this help

Environment:
  KUBECTL                kubectl command to use (default: kubectl); KUBECONFIG is honoured as usual
  GRAFT                  graft command for --local enrolment (default: graft)
  GRAFT_BOOTSTRAP_YES=1  same as --yes
USAGE
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}
usage_error() {
  printf 'error: %s\n' "$1" >&2
  printf '  run with --help to see the options\n' >&2
  spent_link_note >&2
  exit 2
}
# Served from a one-time link, the script cannot be fetched again: say so when it stops without doing its work.
spent_link_note() {
  [ -n "${one_time_link:-}" ] || return 0
  printf '%s\n' "note: the one-time link this script came from is now used up; to run it, ${renew_link:-get a new one where this one came from}" \
    "  (or save a script first, curl -fsSL '<link>' -o bootstrap.sh, and run sh bootstrap.sh [options] as often as needed)"
}

bootstrap_dir=${GRAFT_BOOTSTRAP_DIR:-$(dirname -- "$0")}
[ -r "$bootstrap_dir/settings.sh" ] ||
  die "cannot read \"$bootstrap_dir/settings.sh\": run the bootstrap script itself, or set GRAFT_BOOTSTRAP_DIR to a directory written by --unpack"
# shellcheck source=/dev/null
. "$bootstrap_dir/settings.sh"
: "${graft_mode:?settings.sh does not set graft_mode}"
: "${cluster_uuid:?settings.sh does not set cluster_uuid}"
: "${cluster_name:?settings.sh does not set cluster_name}"
: "${cluster_namespace:?settings.sh does not set cluster_namespace}"
: "${flux_version:?settings.sh does not set flux_version}"
: "${flux_crds_needed:?settings.sh does not set flux_crds_needed}"
: "${owned_objects:?settings.sh does not set owned_objects}"
: "${managed_by_label:?settings.sh does not set managed_by_label}"
: "${field_manager:?settings.sh does not set field_manager}"
if [ "$graft_mode" = kerberos ]; then
  : "${krb_realm:?settings.sh does not set krb_realm}"
  : "${krb_kadmin_server:?settings.sh does not set krb_kadmin_server}"
fi

# ---- options ----------------------------------------------------------------------------------------------
assume_yes=no
case ${GRAFT_BOOTSTRAP_YES:-} in 1 | yes | true) assume_yes=yes ;; esac
wait_for_ready=yes
wait_timeout=5m
pod_timeout=5m
enrol_locally=no
unpack_dir=

check_duration() {
  case $2 in
    '' | *[!0-9smh]* | [!0-9]*) usage_error "$1 needs a duration such as 90s, 5m or 1h, not \"$2\"" ;;
  esac
}
need_value() {
  [ "$2" -ge 2 ] || usage_error "$1 needs a value"
}

while [ $# -gt 0 ]; do
  case $1 in
    -y | --yes) assume_yes=yes ;;
    --no-wait) wait_for_ready=no ;;
    --wait-timeout) need_value "$1" $#; check_duration "$1" "$2"; wait_timeout=$2; shift ;;
    --wait-timeout=*) wait_timeout=${1#*=}; check_duration --wait-timeout "$wait_timeout" ;;
    --pod-timeout) need_value "$1" $#; check_duration "$1" "$2"; pod_timeout=$2; shift ;;
    --pod-timeout=*) pod_timeout=${1#*=}; check_duration --pod-timeout "$pod_timeout" ;;
    --local) enrol_locally=yes ;;
    --kadmin-server) need_value "$1" $#; krb_kadmin_server=$2; shift ;;
    --kadmin-server=*) krb_kadmin_server=${1#*=} ;;
    --unpack) need_value "$1" $#; unpack_dir=$2; shift ;;
    --unpack=*) unpack_dir=${1#*=} ;;
    -h | --help) usage; spent_link_note; exit 0 ;;
    *) usage_error "unknown option \"$1\"" ;;
  esac
  shift
done
if [ "$enrol_locally" = yes ] && [ "$graft_mode" != kerberos ]; then
  usage_error "--local only applies to Kerberos enrolment; this script enrols with embedded credentials"
fi

if [ -n "$unpack_dir" ]; then
  mkdir -p -- "$unpack_dir" || die "cannot create directory \"$unpack_dir\""
  for file in "$bootstrap_dir"/*; do
    cp -- "$file" "$unpack_dir/" || die "cannot copy \"$file\" into \"$unpack_dir\""
  done
  say "Unpacked the bootstrap files into $unpack_dir (nothing was changed on any cluster)"
  note "to run them: GRAFT_BOOTSTRAP_DIR=$unpack_dir sh $unpack_dir/driver.sh"
  exit 0
fi

KUBECTL=${KUBECTL:-kubectl}
GRAFT=${GRAFT:-graft}
ns=$cluster_namespace
kc() { "$KUBECTL" "$@"; }
kc_apply() { kc apply --server-side --force-conflicts --field-manager="$field_manager" "$@"; }
label_key=app.kubernetes.io/managed-by
label_path='{.metadata.labels.app\.kubernetes\.io/managed-by}'

# ---- target cluster ---------------------------------------------------------------------------------------
printf 'graft bootstrap for edge cluster "%s" (uuid %s), namespace "%s"\n' "$cluster_name" "$cluster_uuid" "$ns"
command -v "$KUBECTL" >/dev/null 2>&1 ||
  die "kubectl not found (looked for \"$KUBECTL\")" "install kubectl, or set KUBECTL=/path/to/kubectl"

say "Target cluster"
context=$(kc config current-context 2>/dev/null) || context="(none: kubectl's default)"
server=$(kc config view --minify -o 'jsonpath={.clusters[0].cluster.server}' 2>/dev/null) || server="(unknown)"
note "kubectl context: $context"
note "API server:      $server"
nodes=$(kc get nodes -o wide 2>&1) ||
  die "cannot list the nodes of the target cluster: $(printf '%s\n' "$nodes" | tail -n 1)" \
    "check that kubectl reaches the cluster you mean (KUBECONFIG, kubectl config use-context) with cluster-admin rights"
if [ -z "$nodes" ] || [ "$nodes" = "No resources found" ]; then
  note "nodes:           none registered yet"
else
  printf '%s\n' "$nodes" | sed 's/^/    /'
fi

# ---- pre-flight checks (read-only) ------------------------------------------------------------------------
# check_flux: sets flux_state to absent, current or unusable, and flux_problems to what is wrong.
check_flux() {
  flux_state=absent
  flux_problems=
  found_something=no
  if kc -n flux-system get deployment helm-controller >/dev/null 2>&1; then
    found_something=yes
    note "found Deployment \"flux-system/helm-controller\""
  fi
  for pair in $flux_crds_needed; do
    crd=${pair%=*}
    want=${pair#*=}
    info=$(kc get crd "$crd" --ignore-not-found -o 'jsonpath={.metadata.name}:{.spec.versions[?(@.served==true)].name}') ||
      die "cannot read CustomResourceDefinition \"$crd\" on the target cluster" \
        "the bootstrap needs cluster-admin rights: check the kubectl context shown above"
    if [ -z "$info" ]; then
      flux_problems="$flux_problems
CRD \"$crd\" is missing (graft needs version $want)"
      continue
    fi
    found_something=yes
    served=${info#*:}
    case " $served " in
      *" $want "*) note "CRD \"$crd\" serves $served" ;;
      *) flux_problems="$flux_problems
CRD \"$crd\" serves only ${served:-no version} but graft needs $want" ;;
    esac
  done
  if [ "$found_something" = no ]; then
    flux_state=absent
  elif [ -z "$flux_problems" ]; then
    flux_state=current
  else
    flux_state=unusable
  fi
}

refuse_flux() {
  printf 'error: %s\n' "$1" >&2
  printf '%s\n' "$flux_problems" | sed '/^$/d; s/^/  /' >&2
  printf '  %s\n' \
    "graft needs Flux 2.3 or later (it installs Flux $flux_version): upgrade the Flux on this cluster," \
    "for example with \"flux install --version=$flux_version\" or by applying that release's install.yaml," \
    "then run this script again. Nothing was changed." >&2
  exit 1
}

say "Checking for an existing Flux"
check_flux
case $flux_state in
  absent) note "no Flux found: Flux $flux_version will be installed" ;;
  current) note "Flux is installed and serves the API versions graft needs: leaving it as it is" ;;
  *) refuse_flux "the Flux installed on this cluster cannot run graft's manifests:" ;;
esac

# check_owned KIND/NAME: refuses to go on when the object exists but graft did not create it.
check_owned() {
  found=$(kc -n "$ns" get "$1" --ignore-not-found -o "jsonpath={.metadata.name}|$label_path") ||
    die "cannot read $1 in namespace \"$ns\"" "the bootstrap needs cluster-admin rights: check the kubectl context shown above"
  [ -z "$found" ] && return 0
  [ "${found#*|}" = "$managed_by_label" ] && return 0
  die "$1 already exists in namespace \"$ns\" and was not created by graft (it lacks the label $label_key=$managed_by_label): graft will not overwrite it" \
    "if it is left over from an earlier installation, delete it (kubectl -n $ns delete $1) and run this script again. Nothing was changed."
}
say "Checking namespace \"$ns\" for objects graft would overwrite"
for object in $owned_objects; do check_owned "$object"; done
note "none found"

# ---- confirmation -----------------------------------------------------------------------------------------
say "Plan"
note "1. create namespace \"$ns\" (if missing)"
if [ "$graft_mode" = embedded ]; then
  note "2. create Secrets and ConfigMap with this cluster's credentials and settings ($owned_objects)"
elif [ "$enrol_locally" = yes ]; then
  note "2. enrol with Kerberos realm $krb_realm from this machine (graft enrol --local)"
else
  note "2. enrol with Kerberos realm $krb_realm from a Pod \"edge-bootstrap\" (you will be asked for admin credentials)"
fi
if [ "$flux_state" = absent ]; then note "3. install Flux $flux_version"; else note "3. keep the installed Flux"; fi
note "4. link the cluster to its Git repository (GitRepository and Kustomization \"self-link\")"

if [ "$assume_yes" = yes ]; then
  note "confirmed by --yes"
else
  if ! (exec </dev/tty) 2>/dev/null; then
    # Served from a one-time link (curl … | sh -), "run it again" needs a new link and --yes passed through sh.
    [ -z "${one_time_link:-}" ] ||
      die "there is no terminal to ask for confirmation on" \
        "nothing was changed; to go ahead without asking, run it with --yes (or GRAFT_BOOTSTRAP_YES=1):" \
        "  curl -fsSL '<new link>' | sh -s -- --yes" \
        "this script's link works only once: ${renew_link:-get a new one where this one came from}" \
        "(a saved copy of this script runs again as: sh <file> --yes)"
    die "there is no terminal to ask for confirmation on" "re-run with --yes (or GRAFT_BOOTSTRAP_YES=1) to go ahead without asking. Nothing was changed."
  fi
  printf 'Bootstrap this cluster as edge cluster "%s"? [y/N] ' "$cluster_name" >/dev/tty
  answer=
  read -r answer </dev/tty || answer=
  case $answer in
    y | Y | yes | YES | Yes) ;;
    *) die "not confirmed: nothing was changed" ;;
  esac
fi

# ---- changes ----------------------------------------------------------------------------------------------
say "Creating namespace \"$ns\""
if kc get namespace "$ns" >/dev/null 2>&1; then
  note "already exists"
else
  kc create namespace "$ns" >/dev/null || die "cannot create namespace \"$ns\"" "see kubectl's message above"
  note "created"
fi

say "Writing cluster settings (ConfigMap \"cluster-config\")"
kc_apply -f "$bootstrap_dir/cluster-config.yaml" >/dev/null ||
  die "cannot apply ConfigMap \"$ns/cluster-config\"" "see kubectl's message above; re-running this script is safe"

require_flux_secrets() {
  kc -n "$ns" get secret flux-secrets >/dev/null 2>&1 ||
    die "enrolment did not create Secret \"$ns/flux-secrets\", which Flux needs to read the cluster's repository" \
      "see the enrolment output above, fix the cause and run this script again"
}

enrol_embedded() {
  say "Enrolling: writing the cluster's credentials (Secrets in \"$ns\")"
  kc_apply -f "$bootstrap_dir/credentials.yaml" >/dev/null ||
    die "cannot apply the credential Secrets in namespace \"$ns\"" "see kubectl's message above; re-running this script is safe"
  note "written"
}

enrol_from_here() {
  say "Enrolling with Kerberos realm $krb_realm from this machine"
  command -v "$GRAFT" >/dev/null 2>&1 ||
    die "graft not found (looked for \"$GRAFT\"), which --local enrolment runs" \
      "install the graft CLI or set GRAFT=/path/to/graft; or run without --local to enrol from a Pod"
  status=0
  note "running: $GRAFT enrol --local --cluster $cluster_name --namespace $ns --realm $krb_realm --kadmin-server $krb_kadmin_server"
  if (exec </dev/tty) 2>/dev/null; then
    KRB5_CONFIG=$bootstrap_dir/krb5.conf "$GRAFT" enrol --local --cluster "$cluster_name" --namespace "$ns" \
      --realm "$krb_realm" --kadmin-server "$krb_kadmin_server" </dev/tty || status=$?
  else
    KRB5_CONFIG=$bootstrap_dir/krb5.conf "$GRAFT" enrol --local --cluster "$cluster_name" --namespace "$ns" \
      --realm "$krb_realm" --kadmin-server "$krb_kadmin_server" || status=$?
  fi
  [ "$status" -eq 0 ] || die "graft enrol failed (exit status $status)" "see its message above, fix the cause and run this script again"
}

# The Pod's ServiceAccount is namespace admin: never leave it behind.
remove_enrol_pod() {
  kc -n "$ns" delete pod edge-bootstrap --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kc -n "$ns" delete rolebinding,serviceaccount edge-bootstrap --ignore-not-found >/dev/null 2>&1 ||
    printf 'warning: could not delete RoleBinding and ServiceAccount "%s/edge-bootstrap": delete them by hand\n' "$ns" >&2
}

enrol_in_pod() {
  say "Enrolling with Kerberos realm $krb_realm from Pod \"$ns/edge-bootstrap\""
  # graft enrol asks on the container's TTY, and kubectl can join a TTY only from a terminal.
  (exec </dev/tty) 2>/dev/null ||
    die "there is no terminal to answer the enrolment Pod's questions on" \
      "run this script from a terminal, or enrol from this machine with --local (the graft CLI; GRAFT_ADMIN_PRINCIPAL" \
      "and GRAFT_ADMIN_PASSWORD answer it without a terminal); re-running this script is safe"
  kc -n "$ns" delete pod edge-bootstrap --ignore-not-found --wait=true >/dev/null ||
    die "cannot remove the Pod \"$ns/edge-bootstrap\" left by an earlier run" "delete it by hand and run this script again"
  kc_apply -f "$bootstrap_dir/enrol-pod.yaml" >/dev/null ||
    die "cannot create the enrolment Pod \"$ns/edge-bootstrap\"" "see kubectl's message above; re-running this script is safe"
  note "waiting up to $pod_timeout for the Pod to start"
  if ! kc -n "$ns" wait pod/edge-bootstrap --for=condition=Ready --timeout="$pod_timeout" >/dev/null 2>&1; then
    remove_enrol_pod
    die "the enrolment Pod \"$ns/edge-bootstrap\" did not start within $pod_timeout" \
      "see why with: kubectl -n $ns get events --field-selector involvedObject.name=edge-bootstrap" \
      "where Pods cannot run yet (no ready nodes, no access to the image registry) use --local to enrol from this machine" \
      "with the graft CLI; re-running this script is safe"
  fi
  note "attached: answer the prompts below"
  kc -n "$ns" attach -i -t edge-bootstrap -c enrol </dev/tty || true
  # After attach returns the container may still be finishing: give it a moment to reach a final phase.
  if kc -n "$ns" wait pod/edge-bootstrap --for=jsonpath='{.status.phase}'=Succeeded --timeout=60s >/dev/null 2>&1; then
    phase=Succeeded
  else
    phase=$(kc -n "$ns" get pod edge-bootstrap -o 'jsonpath={.status.phase}' 2>/dev/null) || phase=unknown
    kc -n "$ns" logs edge-bootstrap -c enrol --tail=20 >&2 2>/dev/null || true
  fi
  remove_enrol_pod
  [ "$phase" = Succeeded ] ||
    die "enrolment in Pod \"$ns/edge-bootstrap\" did not succeed (Pod phase: ${phase:-unknown})" \
      "see its output above, fix the cause and run this script again"
}

case $graft_mode in
  embedded) enrol_embedded ;;
  kerberos) if [ "$enrol_locally" = yes ]; then enrol_from_here; else enrol_in_pod; fi ;;
  *) die "settings.sh names an unknown mode \"$graft_mode\"" "download a fresh bootstrap script" ;;
esac
require_flux_secrets
note "Secret \"$ns/flux-secrets\" is present"

if [ "$flux_state" = absent ]; then
  say "Installing Flux $flux_version"
  kc_apply -f "$bootstrap_dir/flux-install.yaml" >/dev/null ||
    die "cannot apply the Flux install manifest" "see kubectl's message above; re-running this script is safe"
  for pair in $flux_crds_needed; do
    kc wait --for=condition=Established --timeout=60s "crd/${pair%=*}" >/dev/null ||
      die "CRD \"${pair%=*}\" was not established within 60s after installing Flux" "check the API server's health and run this script again"
  done
  check_flux
  [ "$flux_state" = current ] || refuse_flux "the installed Flux manifest does not serve the API versions graft needs:"
  note "installed"
fi

say "Linking the cluster to its Git repository (self-link)"
kc_apply -f "$bootstrap_dir/self-link.yaml" >/dev/null ||
  die "cannot apply the self-link GitRepository and Kustomization" "see kubectl's message above; re-running this script is safe"
note "applied GitRepository and Kustomization \"$ns/self-link\""

if [ "$wait_for_ready" = no ]; then
  say "Not waiting for Flux (--no-wait)"
  note "follow progress with: kubectl -n $ns get gitrepository,kustomization self-link"
else
  say "Waiting up to $wait_timeout for Flux to reconcile Kustomization \"$ns/self-link\""
  kc -n "$ns" wait kustomization/self-link --for=condition=Ready --timeout="$wait_timeout" >/dev/null 2>&1 ||
    die "Kustomization \"$ns/self-link\" did not become Ready within $wait_timeout" \
      "the bootstrap steps are done and Flux keeps retrying; to see what holds it up:" \
      "  kubectl -n $ns describe gitrepository self-link" \
      "  kubectl -n $ns describe kustomization self-link" \
      "  kubectl -n flux-system logs deploy/source-controller" \
      "  kubectl -n flux-system logs deploy/kustomize-controller" \
      "re-running this script is safe (use --wait-timeout to wait longer)"
  note "Ready"
fi
say "Done: edge cluster \"$cluster_name\" is bootstrapped; Flux now drives it from its repository"
