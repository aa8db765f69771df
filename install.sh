#!/bin/sh
# Install git-datavc so that a new shell finds `git datavc`, then register its git filter
# globally (like `git lfs install`). Idempotent: run it again to upgrade.
#
#   ./install.sh          into the active virtualenv ($VIRTUAL_ENV), or else into a private
#                         one (~/.local/share/git-datavc/venv) linked onto your PATH
#   ./install.sh --dev    an editable install with the test extras, in ./.venv
#
# Needs Python 3.10+ (with its venv module), pip and git.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dev=0
for arg in "$@"; do
    case $arg in
        --dev) dev=1 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

py=${PYTHON:-python3}
command -v "$py" >/dev/null 2>&1 || die "$py not found: install Python 3.10 or newer"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "git-datavc needs Python 3.10 or newer ($py is $("$py" -V 2>&1))"
command -v git >/dev/null 2>&1 || die "git not found: install git first"

if [ "$dev" = 1 ]; then
    venv=$here/.venv
elif [ -n "${VIRTUAL_ENV:-}" ]; then
    venv=$VIRTUAL_ENV
else
    venv=${DATAVC_HOME:-$HOME/.local/share/git-datavc}/venv
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating a virtualenv in $venv"
    "$py" -m venv "$venv" 2>/dev/null \
        || die "could not create a virtualenv with $py (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [ "$dev" = 1 ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[dev]"
else
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$here"
fi
cmd=$venv/bin/git-datavc
# Byte-compile now: git starts git-datavc on every checkout, and where the environment says
# PYTHONDONTWRITEBYTECODE nothing would ever write the .pyc files (~35 ms per start).
if [ "$dev" = 1 ]; then  # pip byte-compiles a regular install itself
    "$venv/bin/python" -m compileall -q "$here/git_datavc" >/dev/null || true
fi
[ -x "$cmd" ] || die "pip did not install $cmd"

# Make `git-datavc` findable from a new shell (git runs `git-datavc` for `git datavc`).
on_path() { case ":$PATH:" in *":$1:"*) return 0 ;; *) return 1 ;; esac; }
if [ -n "${VIRTUAL_ENV:-}" ] && [ "$venv" = "$VIRTUAL_ENV" ]; then
    say "installed into the active virtualenv: $cmd"
else
    bindir=""
    for dir in "$HOME/.local/bin" /usr/local/bin; do
        if on_path "$dir" && { [ -w "$dir" ] || { [ ! -e "$dir" ] && mkdir -p "$dir" 2>/dev/null; }; }; then
            bindir=$dir
            break
        fi
    done
    if [ -z "$bindir" ]; then
        bindir=$HOME/.local/bin
        mkdir -p "$bindir"
        line='export PATH="$HOME/.local/bin:$PATH"'
        for rc in "$HOME/.profile" "$HOME/.bashrc"; do
            grep -qsF "$line" "$rc" || echo "$line" >> "$rc"
        done
        say "added $bindir to PATH in ~/.profile and ~/.bashrc (new shells);"
        say "for this shell run: export PATH=\"$bindir:\$PATH\""
    fi
    ln -sf "$cmd" "$bindir/git-datavc"
    say "git-datavc installed: $bindir/git-datavc -> $cmd"
fi

# Manual pages beside the bin folder `git-datavc` is found in: man searches DIR/../share/man
# for every DIR on PATH, so `git datavc --help` (git runs `man git-datavc`) finds them.
if [ -n "${VIRTUAL_ENV:-}" ] && [ "$venv" = "$VIRTUAL_ENV" ]; then
    mandir=$venv/share/man
else
    mandir=$(dirname "$bindir")/share/man
fi
if "$cmd" help --man-dir "$mandir" >/dev/null 2>&1; then
    say "manual pages installed in $mandir/man1 (git datavc --help, git datavc help CMD)"
else
    say "warning: could not write manual pages to $mandir (git datavc help CMD still works)"
fi

"$cmd" install --global --no-hooks
