# shellcheck shell=bash
# deb-src lines for Debian's archive, shared by the scripts that build from Debian
# source packages (QEMU's plugin header, U-Boot for i.MX8M Plus). Sourced; the caller
# defines `say` and `as_root`.

# True when some source list (one-line or deb822) already has deb-src for SUITE.
have_deb_src() {
  local suite=$1 f
  { grep -rhsE "^[[:space:]]*deb-src[[:space:]].*debian/?[[:space:]]+$suite[[:space:]]" \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | grep -q . && return 0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN{RS="";FS="\n"} $0 ~ "Types:[^\n]*deb-src" && $0 ~ "Suites:[^\n]*[ \t]" s "([ \t]|\n|$)" {found=1} END{exit !found}' "$f" && return 0
  done
  return 1
}

# The keyring a deb822 entry for SUITE on Debian's archive names (empty if none): apt
# refuses a second entry for the same archive and suite with a different Signed-By.
deb_src_keyring() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN{RS="";FS="\n"} $0 ~ "Suites:[^\n]*[ \t]" s "([ \t]|\n|$)" && $0 ~ "URIs:[^\n]*debian/?([ \t]|\n|$)" {
        for (i = 1; i <= NF; i++) if ($i ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", $i); print $i; exit } }' "$f"
  done | head -n1
}

# Add deb-src for SUITE to LIST unless one exists; says so. The caller runs apt-get update.
ensure_deb_src() {
  local suite=$1 list=$2 key line
  have_deb_src "$suite" && return 0
  key=$(deb_src_keyring "$suite")
  line="deb-src${key:+ [signed-by=$key]} http://deb.debian.org/debian $suite main"
  say "adding '$line' to $list"
  echo "$line" | as_root tee "$list" >/dev/null
}
