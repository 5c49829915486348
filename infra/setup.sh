#!/usr/bin/env bash
# Idempotent set-up of a Debian machine for Range Control: system packages the project needs
# (installed only when missing) and a virtualenv in .venv with the project and its test tools.
#   infra/setup.sh            # everything
#   RANGE_SETUP_SKIP_APT=1 infra/setup.sh   # Python only
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

apt_missing=()
need() { # need <command-or-path> <debian-package>
  if ! command -v "$1" >/dev/null 2>&1 && ! compgen -G "$1" >/dev/null; then apt_missing+=("$2"); fi
}
need python3 python3
need "/usr/lib/postgresql/*/bin/initdb" postgresql
need dockerd docker.io              # the engine (infra/engine.sh starts it)
need iptables iptables              # the host guard of team networks
need debootstrap debootstrap        # rangectl images build-base
need /bin/busybox busybox-static    # tiny tools for the test challenge images
need /usr/bin/chromium chromium     # the browser of the page tests (driven by playwright)
need node nodejs                    # axe-core, the accessibility checker of the page tests
need npm npm
need strace strace                  # the durability test watches the syncs before each answer
need /usr/sbin/nginx nginx          # the production web tier (infra/deploy) and its tests
need openssl openssl                # the tests' TLS certificate for nginx
need pg_dump postgresql-client      # rangectl backup / restore on PostgreSQL
need promtool prometheus            # Prometheus's promtool checks infra/monitoring in the tests
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_missing+=(python3-venv); fi

if [ "${#apt_missing[@]}" -gt 0 ] && [ -z "${RANGE_SETUP_SKIP_APT:-}" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  log "installing Debian packages: ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"Python >= 3.11 is required, found {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
stamp=".venv/.range-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,docs]'
  touch "$stamp"
fi
# axe-core for the browser tests (WCAG 2.1 AA): from the npm registry, into tests/a11y.
if [ ! -f tests/a11y/node_modules/axe-core/axe.min.js ] || [ tests/a11y/package.json -nt tests/a11y/node_modules ]; then
  log "installing axe-core (npm) for the page tests"
  npm install --prefix tests/a11y --no-audit --no-fund --silent >/dev/null
  touch tests/a11y/node_modules
fi
# The pages' vendored assets (npm, at build time; the range serves them itself, air-gapped):
# the country flags as SVG (lipis/flag-icons, MIT), copied under range_control/web/static/flags.
flags=range_control/web/static/flags
if [ ! -f "$flags/LICENSE" ] || [ infra/vendor/package.json -nt "$flags/LICENSE" ]; then
  log "vendoring the country flags (npm flag-icons)"
  npm install --prefix infra/vendor --no-audit --no-fund --silent >/dev/null
  rm -rf "$flags" && mkdir -p "$flags"
  cp infra/vendor/node_modules/flag-icons/flags/4x3/*.svg "$flags/"
  cp infra/vendor/node_modules/flag-icons/LICENSE "$flags/LICENSE"
fi
# A certified OpenID provider (oidc-provider) for the single sign-on tests, into tests/oidc.
if [ ! -d tests/oidc/node_modules/oidc-provider ] || [ tests/oidc/package.json -nt tests/oidc/node_modules ]; then
  log "installing oidc-provider (npm) for the single sign-on tests"
  npm install --prefix tests/oidc --no-audit --no-fund --silent >/dev/null
  touch tests/oidc/node_modules
fi
# The documentation site (docs/ -> range_control/web/site, served by the range at /docs/): built
# again when the pages or the code its references are generated from changed since.
site=range_control/web/site/index.html
changed() {
  find docs mkdocs.yml infra/docs range_control \( -path range_control/web/site \
    -o -path infra/docs/build -o -name __pycache__ \) -prune -o -type f -newer "$site" -print -quit
}
if [ ! -f "$site" ] || [ -n "$(changed)" ]; then
  log "building the documentation site (mkdocs)"
  NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict
fi
log "ready: .venv/bin/rangectl"
