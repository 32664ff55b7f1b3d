#!/usr/bin/env bash
# Installs Mesa's CPU Vulkan driver (lavapipe) from bookworm-backports into a private folder,
# without replacing the system Mesa, so the webgpu backend runs on a machine without a GPU.
# Debian 12's own lavapipe (Mesa 22.3) is rejected by Dawn; the backports one (Mesa 25) works.
#
#   source packages/trainer/scripts/setup-lavapipe.sh [DIR]     # exports VK_DRIVER_FILES
#   bash packages/trainer/scripts/setup-lavapipe.sh [DIR]       # prints the export line
#
# Needs root (apt-get) and Debian's package registry. DIR defaults to .cache/lavapipe.
set -euo pipefail

dir="$(realpath -m "${1:-.cache/lavapipe}")"
icd="$dir/lvp_icd.json"

if [ ! -f "$icd" ]; then
  mkdir -p "$dir"
  # The loader and the stock driver's dependencies come from the normal suites.
  if ! dpkg -s libvulkan1 mesa-vulkan-drivers >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 mesa-vulkan-drivers >/dev/null
  fi
  # A private apt configuration that knows bookworm-backports, used only to download one .deb.
  apt_dir="$dir/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/sources"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$apt_dir/sources/backports.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources/backports.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::archives=$apt_dir/archives" -o "APT::Get::List-Cleanup=0")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$dir" && apt-get "${apt_opts[@]}" download -qq "mesa-vulkan-drivers/bookworm-backports")
  deb="$(ls "$dir"/mesa-vulkan-drivers_*.deb | head -n 1)"
  dpkg -x "$deb" "$dir/root"
  library="$(find "$dir/root" -name 'libvulkan_lvp.so' | head -n 1)"
  source_icd="$(find "$dir/root" -name 'lvp_icd*.json' | head -n 1)"
  [ -n "$library" ] && [ -n "$source_icd" ] || { echo "setup-lavapipe: lavapipe not found in $deb" >&2; exit 1; }
  # The shipped ICD names the library by its system path; point it at our private copy.
  sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$library\"#" "$source_icd" > "$icd"
  rm -rf "$apt_dir" "$deb"
fi

export VK_DRIVER_FILES="$icd"
export VK_ICD_FILENAMES="$icd"
echo "export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd"
