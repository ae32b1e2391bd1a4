"""Real seL4 images, built with seL4's own build system.

The subject of the harness is seL4_tools' elfloader with a real kernel and
rootserver, stock and patched. This sub-package turns a handful of options into
a configured and built sel4test (`init-build.sh` + ninja), from the pinned
upstream sources beside the repository or from a user's own seL4 project, and
caches the result by (revisions, options, patches).

- `config`: the options a user picks and the CMake arguments they become
- `sources`: where the seL4 tree comes from, and patched copies of seL4_tools
- `build`: configure, build, collect the image; skipped when up to date
- `cli`: `harness sel4 build`
"""
