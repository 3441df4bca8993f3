# Sourced: Debian 12's arm64 packages without touching the host's apt or
# dpkg (no dpkg --add-architecture). A private apt directory under $1 names
# bookworm's arm64 archive on the host's mirror, with its own lists and
# cache; arm64_download PKG... fetches .debs into $1/deb (apt-get download),
# to be unpacked with dpkg -x. Sets ARM64_APT (apt-get/apt-cache options).
arm64_apt() {
  local a=$1/apt-arm64 k=/usr/share/keyrings/debian-archive-keyring.gpg mirror
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
  mirror=${mirror%/}
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$1/deb"
  printf 'deb [arch=arm64 signed-by=%s] %s %s main\n' "$k" "$mirror" bookworm "$k" "$mirror" bookworm-updates \
    "$k" "${mirror%/debian}/debian-security" bookworm-security > "$a/sources.list.new"
  cmp -s "$a/sources.list.new" "$a/sources.list" && rm "$a/sources.list.new" || mv "$a/sources.list.new" "$a/sources.list"
  ARM64_APT=(-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=/dev/null -o "Dir::State::lists=$a/lists"
    -o "Dir::Cache=$a/cache" -o APT::Architecture=arm64 -o APT::Architectures=arm64)
  # The lists once a day (an index older than a point release names .debs
  # the mirror no longer has), and whenever none was fetched.
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
