# Sourced by the e2e scripts: `bash script.sh CLEANMIX_BINARY WORK_DIR`. Sets bin, work, repo,
# mpiexec and flags (from the MPIEXEC and MPIEXEC_PREFLAGS that CTest passes), and empties work.
bin="$(realpath "$1")"; work="$2"
repo="${CLEANMIX_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
mpiexec="${MPIEXEC:-mpiexec}"
read -r -a flags <<< "${MPIEXEC_PREFLAGS:-}"
rm -rf "$work"; mkdir -p "$work"
