# Sourced: Debian packages apt does not serve to this host (bullseye's, or
# bookworm's arm64) without touching the host's apt or dpkg (no sources
# added, no dpkg --add-architecture). A private apt directory names the
# suite on the host's mirror, with its own lists and package cache; .debs
# are fetched with apt-get download and unpacked with dpkg -x.

# private_apt DIR SUITE [ARCH]: DIR/sources.list names SUITE, SUITE-updates
# and SUITE-security (for ARCH only, when given); sets PRIVATE_APT, the
# options that make apt-get and apt-cache use DIR.
private_apt() {
  local a=$1 suite=$2 arch=${3:-} mirror k=/usr/share/keyrings/debian-archive-keyring.gpg opt
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
  mirror=${mirror%/}
  mirror=${mirror:-http://deb.debian.org/debian}
  opt="signed-by=$k"
  [ -n "$arch" ] && opt="arch=$arch $opt"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  printf 'deb [%s] %s %s main\n' "$opt" "$mirror" "$suite" "$opt" "$mirror" "$suite-updates" \
    "$opt" "${mirror%/debian}/debian-security" "$suite-security" > "$a/sources.list.new"
  cmp -s "$a/sources.list.new" "$a/sources.list" && rm "$a/sources.list.new" || mv "$a/sources.list.new" "$a/sources.list"
  PRIVATE_APT=(-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::lists=$a/lists" -o "Dir::Cache=$a/cache")
  [ -n "$arch" ] && PRIVATE_APT+=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
  return 0
}

# arm64_apt DIR: bookworm's arm64 archive in DIR/apt-arm64; sets ARM64_APT.
# Its lists are fetched once a day (an index older than a point release
# names .debs the mirror no longer has), and whenever none was fetched.
arm64_apt() {
  local a=$1/apt-arm64
  private_apt "$a" bookworm arm64
  ARM64_APT=("${PRIVATE_APT[@]}")
  if ! compgen -G "$a/lists/*_Packages*" >/dev/null || [ -z "$(find "$a/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440)" ]; then
    apt-get "${ARM64_APT[@]}" update -qq
  fi
}

# arm64_download DIR PKG...: each package's newest .deb in DIR/deb (kept:
# fetched once); prints their paths.
arm64_download() {
  local dir=$1 p f
  shift
  mkdir -p "$dir/deb"
  for p in "$@"; do
    f=$(ls "$dir/deb/${p}_"*_{arm64,all}.deb 2>/dev/null | head -1 || true)
    if [ -z "$f" ]; then
      (cd "$dir/deb" && apt-get "${ARM64_APT[@]}" download "$p" >/dev/null 2>&1) ||
        { apt-get "${ARM64_APT[@]}" update -qq && (cd "$dir/deb" && apt-get "${ARM64_APT[@]}" download "$p" 2>&1 | tail -1 >&2); } ||
        { echo "arm64 apt: cannot download $p from Debian's arm64 archive" >&2; return 1; }
      f=$(ls "$dir/deb/${p}_"*_{arm64,all}.deb 2>/dev/null | head -1)
    fi
    echo "$f"
  done
}

# arm64_kernel DIR: Debian 12's newest 6.1 arm64 kernel package, fetched
# into DIR/deb and unpacked in DIR/<package> (once); prints that folder.
arm64_kernel() {
  local dir=$1 pkg deb
  pkg=$(apt-cache "${ARM64_APT[@]}" search --names-only '^linux-image-6\.1\.0-[0-9]+-arm64$' | awk '{print $1}' | sort -V | tail -1)
  [ -n "$pkg" ] || { echo "arm64 apt: Debian's arm64 archive offers no linux-image-6.1.0-*-arm64" >&2; return 1; }
  if [ ! -d "$dir/$pkg/boot" ]; then
    deb=$(arm64_download "$dir" "$pkg") || return 1
    mkdir -p "$dir/$pkg" && dpkg -x "$deb" "$dir/$pkg"
  fi
  echo "$dir/$pkg"
}
