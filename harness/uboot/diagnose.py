"""U-Boot's error lines: whose fault each one is, and the fix when the set-up is at fault.

A boot that stops at U-Boot is not always the product's failure. Three classes:
`setup` (the boot set-up: bootm's size limit, an image or buffer overlapping
what U-Boot or the copy needs, a transfer into U-Boot's reserved memory — a
target file or U-Boot configuration change fixes it), `infrastructure` (the lab:
TFTP server, network) and `product` (the image: bad checksum or hash, wrong
format, missing configuration). The failure's message quotes U-Boot's own line;
set-up failures add one sentence naming the fix. The texts are U-Boot 2023.01's
(boot/bootm.c, boot/image.c, net/tftp.c, cmd/mmc.c, fs/fs.c); older boards print the
same lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    """One U-Boot error line: its class, what it means and (set-up) the fix."""

    pattern: "re.Pattern[str]"
    kind: str  # setup | infrastructure | product
    meaning: str
    fix: str = ""


KNOWN: tuple[Known, ...] = (
    Known(
        re.compile(r"^\S+: uncompress error -28$"),
        "setup",
        "bootm's size limit (CONFIG_SYS_BOOTM_LEN): it refuses to copy an image that large to its load address",
        "boot in place ('bootm: in-place' in the target's uboot section) or raise CONFIG_SYS_BOOTM_LEN in U-Boot",
    ),
    Known(
        re.compile(r"^Image too large: increase CONFIG_SYS_BOOTM_LEN$"),
        "setup",
        "bootm's size limit (CONFIG_SYS_BOOTM_LEN)",
        "boot in place ('bootm: in-place') or raise CONFIG_SYS_BOOTM_LEN in U-Boot",
    ),
    Known(
        re.compile(r"^ERROR: new format image overwritten"),
        "setup",
        "bootm's copy to the load address overlaps the FIT it copies from",
        "use 'load_addr: auto' or move load_addr clear of the image's load range",
    ),
    Known(
        re.compile(r"^ERROR: (?:FDT|RD) image overlaps OS image"),
        "setup",
        "the FDT or ramdisk given to bootm lies where the image is copied to",
        "pass an FDT outside the image's load range (the target's 'fdt')",
    ),
    Known(
        re.compile(r"TFTP error: trying to overwrite reserved memory"),
        "setup",
        "the transfer buffer reaches into memory U-Boot reserved for itself",
        "use 'load_addr: auto', or raise uboot_reserve so the buffer ends below U-Boot",
    ),
    Known(re.compile(r"^TFTP error: .*|^Retry count exceeded"), "infrastructure", "the TFTP transfer failed"),
    Known(
        re.compile(r"^Failed to load '[^']*'$"),
        "infrastructure",
        "`load mmc` found no such file on the card's partition (the SD card image or the card in the board lacks it)",
    ),
    Known(
        re.compile(
            r"^(?:Card did not respond to voltage select!|MMC: no card present|"
            r"Couldn't find partition mmc \S+)"
        ),
        "infrastructure",
        "no card, or no such partition, where the target's 'mmc: DEV:PART' points",
    ),
    Known(
        re.compile(
            r"(?:^|\.\.\. )(?:Bad (?:Data|Header) CRC|Bad Header Checksum|Bad Data Hash|"
            r"Bad hash value)"
        ),
        "product",
        "the image's checksum or hash does not match its data",
    ),
    Known(
        re.compile(
            r"^(?:Wrong Image Format|ERROR: can't get kernel image!|"
            r"Bad Magic Number|Bad Linux ARM64 Image magic!|Could not find configuration node)"
        ),
        "product",
        "U-Boot does not accept the image",
    ),
)

# Printed in place of `Loading Kernel Image` when the data already sits at its load
# address (boot/image.c print_decomp_msg: "XIP" for uncompressed data found in place).
IN_PLACE = re.compile(r"^\s+XIP (?P<type>.+)$")
COPIED = re.compile(r"^\s+Loading Kernel Image$")


def classify(line: str) -> Known | None:
    """The known error this console line is, if any."""
    text = line.strip()
    return next((k for k in KNOWN if k.pattern.search(text)), None)


def explain(line: str, known: Known) -> str:
    """The failure message: U-Boot's own line, what it means, and the fix."""
    text = f"U-Boot: {line.strip()} ({known.meaning})"
    return f"{text}; fix: {known.fix}" if known.fix else text
