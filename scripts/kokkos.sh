#!/usr/bin/env bash
# Kokkos with Serial + OpenMP, built from Debian's own source package (trilinos, which carries
# Kokkos under packages/kokkos), once, into a cache prefix that the cleanmix build then uses.
#
#   bash scripts/kokkos.sh            build (if needed) and print the prefix (a Kokkos_ROOT)
#   source scripts/kokkos.sh; cleanmix_kokkos_root    the same, as a function (deps.sh uses it)
#
# Which Kokkos the build takes is CLEANMIX_KOKKOS:
#   source  (default) the Serial+OpenMP build below, in $CLEANMIX_CACHE/kokkos-trilinos-...
#           With CLEANMIX_KOKKOS_CUDA_ARCH=<Kokkos arch> (VOLTA70, TURING75, AMPERE80, AMPERE86:
#           what Kokkos 3.4 knows) the same source is built with CUDA too, through Kokkos'
#           nvcc_wrapper, into its own prefix; perf/gpu.sh does this on a machine with a GPU.
#   debian  Debian's binary libtrilinos-kokkos-dev: Serial only, no threads
#   /path   a site's Kokkos install prefix (4.x with CUDA or HIP is accepted), passed as Kokkos_ROOT
#
# Where the source comes from: a private apt configuration (in the cache, the system's is not
# touched) whose deb-src entries are the machine's own deb entries for its Debian release, so no
# archive host is written here. apt checks the downloaded files against the signed Sources index.
# Debian's patches that touch packages/kokkos are applied. Needs network access to that archive
# only the first time; later builds reuse the cache. Needs cmake, make and g++ (deps.sh's build
# group).

cleanmix_kokkos_cache() { echo "${CLEANMIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cleanmix}"; }

# The deb-src twin of every enabled deb entry of this machine's release (deb822 .sources files
# and one-line .list files), printed as a deb822 file.
cleanmix_kokkos_debsrc() {
  local codename f
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || { echo "[kokkos] /etc/os-release has no VERSION_CODENAME" >&2; return 1; }
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # stanzas are separated by blank lines; keep those of Types deb whose Suites name the release
    awk -v rel="$codename" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" rel "([- ]|$)")) {
          print "Types: deb-src"; printf "%s", body; print ""
        }
        types = ""; suites = ""; body = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0; next }
      /^Suites:/ { s = $0; sub(/^Suites:[ \t]*/, "", s); suites = s }
      /^Enabled:[ \t]*no/ { types = "" }
      { body = body $0 "\n" }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] uri suite components...
    awk -v rel="$codename" '$1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
        uri = $i; suite = $(i + 1); comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps " " $j
        if (suite !~ ("^" rel "([-/]|$)")) next
        signed = ""
        if (match(opts, /signed-by=[^] ]*/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
        print "Types: deb-src"; print "URIs: " uri; print "Suites: " suite
        sub(/^ /, "", comps); print "Components: " comps
        if (signed != "") print "Signed-By: " signed
        print ""
      }' "$f"
  done
}

# Build Kokkos (Serial + OpenMP) from the trilinos source package into the cache; print the prefix.
cleanmix_kokkos_build_source() {
  local cache compiler prefix work apt opts ver
  cache="$(cleanmix_kokkos_cache)"
  compiler="gcc$(g++ -dumpfullversion 2>/dev/null || echo unknown)"
  # The version is read from the source; the prefix names the Debian source version instead
  # (known before the download) so that a cached build is found without network.
  local arch="${CLEANMIX_KOKKOS_CUDA_ARCH:-}" devices=serial-openmp
  [ -n "$arch" ] && devices="serial-openmp-cuda-$(echo "$arch" | tr '[:upper:]' '[:lower:]')"
  prefix="$cache/kokkos-trilinos-$devices-$compiler"
  if [ -f "$prefix/.cleanmix-complete" ]; then
    echo "$prefix"
    return 0
  fi
  work="$cache/kokkos-work"
  apt="$work/apt"
  rm -rf "$work"
  mkdir -p "$apt/lists/partial" "$apt/parts" "$apt/cache" "$work/src"
  cleanmix_kokkos_debsrc > "$apt/parts/deb-src.sources" || return 1
  if ! grep -q "^Types: deb-src" "$apt/parts/deb-src.sources"; then
    echo "[kokkos] no deb entry for this Debian release in /etc/apt: cannot derive a deb-src" >&2
    return 1
  fi
  opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/parts"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  echo "[kokkos] fetching Debian's trilinos source package (Kokkos lives in packages/kokkos)" >&2
  apt-get "${opts[@]}" -qq update >&2 || { echo "[kokkos] apt-get update (deb-src) failed" >&2; return 1; }
  (cd "$work/src" && apt-get "${opts[@]}" -qq source --download-only trilinos >&2) ||
    { echo "[kokkos] apt-get source trilinos failed" >&2; return 1; }
  local orig debtar top
  orig="$(ls "$work"/src/trilinos_*.orig.tar.* 2>/dev/null | head -1)"
  debtar="$(ls "$work"/src/trilinos_*.debian.tar.* 2>/dev/null | head -1)"
  [ -n "$orig" ] || { echo "[kokkos] no trilinos orig tarball downloaded" >&2; return 1; }
  tar -xf "$orig" -C "$work/src" --wildcards '*/packages/kokkos/*' >&2 ||
    { echo "[kokkos] extracting packages/kokkos from $orig failed" >&2; return 1; }
  top="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name '*rilinos*' | head -1)"
  if [ -n "$debtar" ]; then
    mkdir -p "$work/debian" && tar -xf "$debtar" -C "$work/debian"
    local p series="$work/debian/debian/patches/series"
    [ -f "$series" ] && while read -r p; do
      p="${p%%#*}"
      [ -n "$p" ] || continue
      # only patches every file of which is under packages/kokkos (the rest is not extracted)
      if ! grep '^+++ ' "$work/debian/debian/patches/$p" | grep -qv '^+++ b/packages/kokkos/'; then
        echo "[kokkos] applying Debian's $p" >&2
        patch -d "$top" -p1 -s < "$work/debian/debian/patches/$p" >&2 || return 1
      fi
    done < "$series"
  fi
  ver="$(sed -n 's/^set(Kokkos_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)).*/\2/p' \
         "$top/packages/kokkos/CMakeLists.txt" | paste -sd.)"
  echo "[kokkos] building Kokkos ${ver:-?} (Serial + OpenMP) into $prefix" >&2
  local launcher=() cuda=()
  command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if [ -n "$arch" ]; then
    cuda=(-DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON -DKokkos_ENABLE_CUDA_CONSTEXPR=ON
          "-DKokkos_ARCH_${arch}=ON"
          "-DCMAKE_CXX_COMPILER=$top/packages/kokkos/bin/nvcc_wrapper")
  fi
  cmake -S "$top/packages/kokkos" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON \
    -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    "${launcher[@]}" "${cuda[@]}" > "$work/configure.log" 2>&1 ||
    { echo "[kokkos] configure failed: $work/configure.log" >&2; tail -20 "$work/configure.log" >&2; return 1; }
  cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" 2>&1 &&
    cmake --install "$work/build" > "$work/install.log" 2>&1 ||
    { echo "[kokkos] build failed: $work/build.log" >&2; tail -20 "$work/build.log" >&2; return 1; }
  printf 'kokkos %s from %s\n' "${ver:-?}" "$(basename "$orig")" > "$prefix/.cleanmix-complete"
  rm -rf "$work"
  echo "$prefix"
}

# Print the Kokkos_ROOT to build against (empty: Debian's binary package, found by default).
cleanmix_kokkos_root() {
  local want="${CLEANMIX_KOKKOS:-source}"
  case "$want" in
    debian) echo "" ;;
    source) cleanmix_kokkos_build_source ;;
    /*)
      [ -d "$want" ] || { echo "[kokkos] CLEANMIX_KOKKOS=$want is not a directory" >&2; return 1; }
      echo "$want"
      ;;
    *) echo "[kokkos] CLEANMIX_KOKKOS must be source, debian or an absolute prefix (got '$want')" >&2; return 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cleanmix_kokkos_root
fi
