/* The probe's random blob: its last PT_LOAD (read-only). BLOB_FILE is the absolute path given
 * to make as BLOB=. */
    .section .blob, "a"
    .balign 8
    .global probe_blob, probe_blob_end
probe_blob:
    .incbin BLOB_FILE
probe_blob_end:
