/*
 * The CPIO archive, linked in the way seL4's elfloader has it: input section ._archive_cpio
 * (placed in .rodata by link.ld), bounded by _archive_start and _archive_start_end.
 * ARCHIVE_FILE is the absolute path given to make as ARCHIVE=.
 */
    .section ._archive_cpio, "a"
    .balign 8                           /* 8-byte aligned: headers and data use aligned loads */
    .global _archive_start, _archive_start_end
    .type _archive_start, %object
_archive_start:
    .incbin ARCHIVE_FILE
_archive_start_end:
    .size _archive_start, _archive_start_end - _archive_start
