/*
 * The one boot ROM service U-Boot proper calls on the i.MX8M Plus, for QEMU's imx8mp-evk,
 * which has no boot ROM (its 0x0..0x3ffff is an unimplemented device: reads give 0).
 *
 * On the chip the ROM publishes a table of entry points (the "ROM API") at 0x980. U-Boot
 * proper asks it where the chip booted from while it picks the environment's location
 * (arch_env_get_location -> get_boot_device, before relocation and again at env_load).
 * On QEMU the pointer read from 0x980 is 0, U-Boot branches to address 0 and dies on the
 * first instruction, before its banner.
 *
 * This file is the table and the query, placed in OCRAM (link.ld, which puts U-Boot beside it
 * in one ELF); the build points U-Boot's ROM API pointer (its variable g_rom_api, 0x980 as
 * built) at the table (scripts/build-uboot-imx8mp.sh).
 * The table layout and the result codes are the ROM's interface as U-Boot calls it: a
 * 16-bit version and tag, a reserved word, then download_image() and query_boot_infor().
 * Written from that interface alone; U-Boot runs this at EL2, with or without its MMU
 * (OCRAM is Normal, executable memory in its map), on its own stack: we use none.
 */

#define ROM_API_OKAY        0xf0    /* the ROM's "success" */
#define ROM_API_FAILED      0x0f    /* anything else fails; the ROM's own failure value */
#define QUERY_BT_DEV        2       /* info_type: the boot device */
#define BT_DEV_TYPE_SD      1       /* boot device type: SD card */
#define BT_INSTANCE_USDHC2  1       /* instance 1 = uSDHC2, the EVK's SD slot */

    .section .rom_api, "ax"
    .global rom_api
rom_api:
    .hword  0x0001                  /* ver */
    .hword  0x0000                  /* tag */
    .word   0                       /* reserved */
    .quad   download_image
    .quad   query_boot_infor

/*
 * u32 query_boot_infor(u32 info_type, u32 *info, u32 xor)
 * QUERY_BT_DEV: *info = type << 16 | instance << 8, "SD card on uSDHC2", the EVK's usual
 * boot. U-Boot maps it to SD2_BOOT; with the environment nowhere (imx8mp-qemu.config) every
 * boot device leads to the same place. Any other query fails (only SPL asks them).
 * The ROM also checks xor == info ^ info_type against glitches; nothing glitches here.
 */
    .type query_boot_infor, %function
query_boot_infor:
    cmp     w0, #QUERY_BT_DEV
    b.ne    1f
    mov     w3, #(BT_INSTANCE_USDHC2 << 8)
    movk    w3, #BT_DEV_TYPE_SD, lsl #16
    str     w3, [x1]
    mov     w0, #ROM_API_OKAY
    ret
1:  mov     w0, #ROM_API_FAILED
    ret

/* u32 download_image(u8 *dest, u32 offset, u32 size, u32 xor): there is no boot device to
 * read from (only SPL calls it). */
    .type download_image, %function
download_image:
    mov     w0, #ROM_API_FAILED
    ret
